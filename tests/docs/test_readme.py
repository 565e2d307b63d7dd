"""The README stays one screenful and true: its set-up commands are the ones CI runs, every
`mlp-parity` command shown anywhere in the docs exists, and no build machine's path leaks in."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess

import pytest

from tests.conftest import ROOT
from tests.support.doctables import doc_files

README_LIMIT = 12 * 1024  # bytes: one screenful for a newcomer; the rest is in docs/
MAIN_JOB = (
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e '.[all]' "
    "&& .venv/bin/mlp-parity run --out report"
)
TEST_SUITE = (
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e '.[all,test]' "
    "&& .venv/bin/python -m pytest"
)


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", _readme(), flags=re.S)


def test_readme_fits_one_screenful() -> None:
    size = len(_readme().encode())
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move to docs/"


def test_readme_has_both_set_up_commands_verbatim() -> None:
    assert _readme_commands()[:2] == [MAIN_JOB, TEST_SUITE], _readme_commands()[:2]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    tests = [c for c in _readme_commands() if "pytest" in c]
    assert tests, "README has no ```bash block with the test command"
    assert tests[0] in ci, f"README test command not in .ci/run:\n{tests[0]}"


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: no list of tracked files")
    return [name for name in out.decode().split("\0") if name]


def test_no_build_machine_path_in_tracked_files() -> None:
    forbidden = "/" + "work" + "/"  # spelled apart so that this file does not contain it
    hits = []
    for name in _tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
            if forbidden in line:
                hits.append(f"{name}:{number}: {line.strip()}")
    assert not hits, "a build machine's path in tracked files:\n" + "\n".join(hits)


# --------------------------------------------------------------------------- commands shown


def _code(text: str) -> list[str]:
    """Fenced code blocks' lines and inline code spans."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    rest = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return [line for block in fenced for line in block.splitlines()] + re.findall(
        r"`([^`\n]+)`", rest
    )


def _shown_commands() -> list[tuple[str, str]]:
    """(file, the arguments after `mlp-parity`) of every command line in code."""
    found = []
    for path in doc_files():
        for snippet in _code(path.read_text(encoding="utf-8")):
            for match in re.finditer(r"(?:^|[\s/$])mlp-parity[ \t]+([^\n]*)", snippet):
                args = re.split(r"\\?\||&&|>|#|;", match.group(1))[0].strip()
                if args and not args.split()[0].isupper():  # COMMAND: a placeholder
                    found.append((path.relative_to(ROOT).as_posix(), args))
    return sorted(set(found))


@pytest.mark.parametrize(("where", "args"), _shown_commands(), ids=lambda v: v)
def test_every_command_shown_exists(where: str, args: str) -> None:
    from parity.cli import build_parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            build_parser().parse_args(shlex.split(args))
    except SystemExit as exit:
        if exit.code in (0, None):  # --help
            return
        pytest.fail(f"{where}: `mlp-parity {args}` is not a valid command: {stderr.getvalue()}")


def test_commands_are_found() -> None:
    shown = {args.split()[0] for _, args in _shown_commands()}
    assert shown >= {"run", "gradcheck", "selftest", "data"}, shown
