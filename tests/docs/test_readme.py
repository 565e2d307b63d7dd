"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    tests = [c for c in _readme_commands() if "pytest" in c]
    assert tests, "README has no ```bash block with the test command"
    assert tests[0] in ci, f"README test command not in .ci/run:\n{tests[0]}"
