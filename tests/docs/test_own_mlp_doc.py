"""docs/own-mlp.md: its template is short, imports nothing but NumPy, and passes the judge;
the worked example imports nothing but NumPy either."""

from __future__ import annotations

import ast

import pytest

from parity.testing import DEFAULT_SPEC, assert_parity
from tests.conftest import ROOT
from tests.support.own import DOC, template_source, write


def _imports(source: str) -> set[str]:
    """The top-level names of every module ``source`` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - {"__future__"}


def test_the_template_is_at_most_40_lines():
    assert len(template_source().splitlines()) <= 40


@pytest.mark.parametrize(
    "path",
    [None, ROOT / "examples" / "student_mlp.py"],
    ids=["template", "student_mlp"],
)
def test_imports_nothing_but_numpy(path):
    source = template_source() if path is None else path.read_text()
    assert _imports(source) == {"numpy"}


@pytest.mark.parametrize("dtype", ["float64", "float32"], ids=["float64", "float32"])
def test_the_template_passes_every_stage(tmp_path, dtype):
    path = write(tmp_path, template_source())
    assert_parity(f"{path}:MyMLP", DEFAULT_SPEC.replace(dtype=dtype))


def test_the_doc_names_every_stage_and_exit_status():
    text = DOC.read_text()
    for stage in ("forward", "gradients", "step", "steps", "train_params", "train_loss"):
        assert f"| `{stage}`" in text, stage
    for status in range(4):
        assert f"| {status} |" in text, status
