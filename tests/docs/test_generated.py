"""Every table in README.md and docs/*.md that mirrors code is generated from it or checked
against it, and every relative link points at a file that exists.

Generated blocks (between ``<!-- generated: NAME ... -->`` and ``<!-- end -->``) are rebuilt by
tests/support/doctables.py and compared here; a stale one fails with a diff and the command
that rewrites it. Tables written by hand that mirror code (verdicts and exit statuses, the
stages, the options, report.json's keys) are parsed and compared with the code they describe.
"""

from __future__ import annotations

import argparse
import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parity.report.model import STATUSES
from parity.tolerances import STAGES
from tests.conftest import ROOT
from tests.support import doctables

DOCS = doctables.doc_files()
README = ROOT / "README.md"
USAGE = ROOT / "docs" / "usage.md"
VERDICTS = ROOT / "docs" / "verdicts.md"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- generated blocks


def _blocks() -> list[tuple[Path, str, str]]:
    return [(path, name, body) for path in DOCS for name, body in doctables.blocks(_read(path))]


@pytest.mark.parametrize(
    ("path", "name", "body"), _blocks(), ids=[f"{_rel(p)}:{n}" for p, n, _ in _blocks()]
)
def test_generated_block_is_current(path: Path, name: str, body: str) -> None:
    assert name in doctables.GENERATORS, (
        f"{_rel(path)}: unknown generated block {name!r}; known: {sorted(doctables.GENERATORS)}"
    )
    expected = doctables.GENERATORS[name]()
    assert body == expected, (
        f"{_rel(path)}: the generated block {name!r} no longer matches the code; "
        f"run `{doctables.COMMAND}`\n" + doctables.diff(path, body, expected)
    )


@pytest.mark.parametrize("name", sorted(doctables.HOMES))
def test_every_generator_has_its_block(name: str) -> None:
    home = ROOT / doctables.HOMES[name]
    names = [n for n, _ in doctables.blocks(_read(home))] if home.is_file() else []
    assert name in names, (
        f"{doctables.HOMES[name]} has no `<!-- generated: {name} -->` ... `<!-- end -->` block"
    )


def test_every_generator_has_a_home() -> None:
    assert set(doctables.GENERATORS) == set(doctables.HOMES)


# --------------------------------------------------------------------------- Markdown helpers


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every table row (not the header separator), split on unescaped |."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or re.fullmatch(r"\|[-:| ]+\|", line):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip("|"))
        rows.append([c.strip() for c in cells])
    return rows


def _section(text: str, heading: str) -> str:
    """From ``heading`` (a whole line) to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading)
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if re.match(r"#{1,%d} " % level, lines[i])  # noqa: UP031
        ),
        len(lines),
    )
    return "\n".join(lines[start:end])


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


# --------------------------------------------------------------------------- tables by hand


@pytest.mark.parametrize("path", [README, VERDICTS], ids=_rel)
def test_verdict_table_matches_the_exit_statuses(path: Path) -> None:
    rows = {r[0].strip("*"): int(r[1]) for r in _table_rows(_read(path)) if r[0].startswith("**")}
    assert rows == STATUSES, (
        f"{_rel(path)}: verdict table {rows} != parity/report/model.py {STATUSES}"
    )


@pytest.mark.parametrize("path", [README, VERDICTS], ids=_rel)
def test_stage_order_line_is_the_judges(path: Path) -> None:
    line = " → ".join(f"`{stage}`" for stage in STAGES)
    assert line in " ".join(_read(path).split()), f"{_rel(path)} lacks the stage order: {line}"


def test_usage_stage_table_is_the_judges() -> None:
    section = _section(_read(USAGE), "### The stages")
    stages = [r[0].strip("`") for r in _table_rows(section)[1:]]
    assert stages == list(STAGES), f"docs/usage.md stage table {stages} != {list(STAGES)}"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    from parity.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _long_options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--")} - {"--help"}


@pytest.mark.parametrize("command", ["run", "gradcheck", "selftest", "data"])
def test_usage_options_table_is_the_command_lines(command: str) -> None:
    section = _section(_read(USAGE), f"## `mlp-parity {command}`")
    documented = {
        option for row in _table_rows(section) for option in re.findall(r"--[a-z][\w-]*", row[0])
    }
    actual = _long_options(_subparsers()[command])
    assert documented == actual, (
        f"docs/usage.md, mlp-parity {command}: missing {sorted(actual - documented)}, "
        f"not an option {sorted(documented - actual)}"
    )


def _report_dict() -> dict[str, Any]:
    """report.json's dict of a tiny judged run, with one failing comparison and a floor, so
    that every optional object (first_failure, floor and its rows) is there."""
    import frameworks
    from parity.data import Dataset, DataSource
    from parity.judge import judge
    from parity.stages.floor import MARGIN, NUDGES, Floor
    from reference.spec import standard
    from tests.support.inputs import pixels

    witness = next(
        (n for n, r in frameworks.availability().items() if r is None and n != "numpy"), None
    )
    if witness is None:
        pytest.skip("no witness installed: report.json's keys need one run")
    spec = standard(sizes=(784, 6, 10), batch_size=8, epochs=1, seed=3)
    rng = np.random.default_rng(0)
    X, y = pixels(40, rng), rng.integers(0, 10, 40).astype(np.int64)
    data = Dataset(X[:32], y[:32], X[32:], y[32:], DataSource("argument", "mnist"))
    report = judge(
        spec, X[:32], y[:32], X[32:], y[32:], names=("numpy", witness), data=data.describe()
    )
    last = report.stages[-1]
    c = last.comparisons[0]
    last.comparisons[0] = replace(c, passed=False)
    report.floor = Floor(
        nudges=NUDGES,
        margin=MARGIN,
        values={(c.stage, c.tensor): [1.0]},
        divergence_steps=[1],
        divergence=[[0.0]],
    )
    return report.to_dict()


def _resolve(data: Any, path: str) -> Any:
    """'stages[].comparisons[]' or 'frameworks.<name>' in a report dict: lists by their first
    element, <placeholders> by the first value."""
    for part in re.findall(r"[^.\[\]]+|\[\]", path):
        if part == "[]":
            data = data[0]
        elif part.startswith("<"):
            data = next(iter(data.values()))
        else:
            data = data[part]
    return data


def test_usage_report_json_keys_are_the_reports() -> None:
    from parity.report.model import SCHEMA

    text = _read(USAGE)
    assert f'`"{SCHEMA}"`' in text, f"docs/usage.md does not name the schema {SCHEMA}"
    section = _section(text, "### What `--out DIR` writes")
    rows = [r for r in _table_rows(section)[1:] if len(r) == 3]
    assert rows, "docs/usage.md: no table of report.json's keys"
    data = _report_dict()
    documented_top = set()
    for path_cell, keys_cell, _ in rows:
        path = path_cell.strip("`")
        documented_top.add(re.split(r"[.\[]", path)[0])
        value = _resolve(data, path)
        keys = set(re.findall(r"`([\w]+)`", keys_cell))
        if keys:
            assert isinstance(value, dict), f"report.json {path} is not an object"
            assert keys == set(value), (
                f"docs/usage.md, report.json {path}: missing {sorted(set(value) - keys)}, "
                f"not a key {sorted(keys - set(value))}"
            )
    assert documented_top == set(data), (
        f"docs/usage.md: report.json's top-level keys are {sorted(data)}"
    )


# --------------------------------------------------------------------------- numbers in prose


def test_noise_floor_constants() -> None:
    from parity.stages.floor import MARGIN, NUDGES

    text = _read(VERDICTS)
    for phrase in (f"`NUDGES` = {NUDGES}", f"`MARGIN` = {MARGIN:g}"):
        assert phrase in " ".join(text.split()), f"docs/verdicts.md lacks {phrase!r}"


def _constants(path: Path) -> dict[str, Any]:
    """A module's top-level NAME = literal assignments, read without importing it."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            values = [value] if isinstance(target, ast.Name) else list(value)
            found.update({n.id: v for n, v in zip(names, values, strict=True)})
    return found


def test_property_suite_numbers() -> None:
    c = _constants(ROOT / "tests" / "properties" / "test_no_false_alarm.py")
    text = " ".join(_read(VERDICTS).split())
    for phrase in (
        f"draw {c['EXAMPLES']} cases per dtype",
        f"at least {c['MIN_PASSING']} per dtype",
        f"at most {c['MAX_INDETERMINATE']:.0%} may be INDETERMINATE",
        f"lr up to {c['MAX_LR']:g}",
    ):
        assert phrase in text, f"docs/verdicts.md lacks {phrase!r}"


def test_sweep_description_and_block() -> None:
    c = _constants(ROOT / "benchmarks" / "sweep_verdicts.py")
    text = " ".join(_read(VERDICTS).split())
    for phrase in (
        f"{c['N_TRAIN']:,}/{c['N_TEST']:,} MNIST subset",
        f"({min(c['LRS']):g} to {max(c['LRS']):g})",
        f"({', '.join(c['ACTIVATIONS'])})",
        f"({', '.join(c['DTYPES'])})",
        f"({', '.join(str(b) for b in c['BATCHES'])})",
    ):
        assert phrase in text, f"docs/verdicts.md lacks {phrase!r}"
    raw = _read(VERDICTS)
    assert raw.count("<!-- sweep -->") == 1 and raw.count("<!-- end sweep -->") == 1


def test_data_page_names_the_variables() -> None:
    from parity.data import ENV_VAR, MIRRORS_ENV

    text = _read(ROOT / "docs" / "data.md")
    for name in (ENV_VAR, MIRRORS_ENV):
        assert f"${name}" in text, f"docs/data.md does not name ${name}"


# --------------------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _without_code_blocks(_read(path))
    return {_slug(m) for m in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def _links() -> list[tuple[Path, str]]:
    return [
        (path, target)
        for path in DOCS
        for target in LINK.findall(_without_code_blocks(_read(path)))
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize(("path", "target"), _links(), ids=[f"{_rel(p)}:{t}" for p, t in _links()])
def test_relative_link_points_at_a_file(path: Path, target: str) -> None:
    file, _, anchor = target.partition("#")
    resolved = (path.parent / file).resolve() if file else path
    rel = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else None
    assert resolved.exists(), f"{_rel(path)}: link to {target} points at nothing"
    if anchor and resolved.suffix == ".md":
        assert anchor in _anchors(resolved), (
            f"{_rel(path)}: link to {target}: {rel} has no heading with anchor #{anchor}"
        )
