"""``python -m parity``: the same command line as ``mlp-parity``."""

import sys

from parity.cli import main

sys.exit(main())
