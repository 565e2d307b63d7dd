"""The documentation's tables that mirror code, generated from the code.

    python -m tests.support.doctables --write   # rebuild every block in README.md and docs/*.md
    python -m tests.support.doctables --check   # print a diff of each stale block; exit 1

A generated block in a Markdown file sits between two HTML comments (invisible when rendered):

    <!-- generated: NAME (python -m tests.support.doctables --write) -->
    ...
    <!-- end -->

NAME is a key of ``GENERATORS``; ``--write`` replaces what is between the markers and nothing
else. tests/docs/test_generated.py regenerates every block and fails with a diff when one is
stale. Nothing here imports torch or scikit-learn, and tox.ini is read with configparser, so
the check runs in every environment of the matrix, tox or no tox.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import difflib
import itertools
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m tests.support.doctables --write"
BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<name>[\w-]+)[^>]*-->\n)(?P<body>.*?)(?P<close><!-- end -->)",
    re.S,
)
# Where each block lives: a block that disappears from its page is noticed by the test.
HOMES = {
    "equivalence": "README.md",
    "tolerances": "docs/tolerances.md",
    "catalogue-setup": "docs/catalogue.md",
    "catalogue": "docs/catalogue.md",
    "catalogue-stages": "docs/catalogue.md",
    "matrix": "docs/matrix.md",
    "ci-left-out": "docs/matrix.md",
    "mnist-files": "docs/data.md",
    "modules": "docs/layout.md",
}


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown page in docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# --------------------------------------------------------------------------- Markdown


def escape(text: str) -> str:
    """Plain text for a table cell: | and * escaped, a word-initial _ too; code spans kept."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # outside code spans only
        part = parts[i].replace("*", r"\*")
        parts[i] = re.sub(r"(?<![\w\\])_", r"\_", part)
    return "`".join(parts).replace("|", r"\|")


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; cells are used as given (escape them first)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def code(text: str) -> str:
    return f"`{text}`"


# --------------------------------------------------------------------------- the blocks


def equivalence() -> str:
    """frameworks/equivalence.py: one row per concept, one column per framework."""
    from frameworks import equivalence as eq

    def cell(text: str) -> str:  # the map's entries are Markdown already
        return text.replace("|", r"\|")

    return table(eq.header(), ([cell(c) for c in row] for row in eq.rows()))


def _number(x: float) -> str:
    """1e-14, 3.55e-15, 2.5e-4, 0.002, 0: short and exact enough to read."""
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:g}"
    text = f"{x:.3g}"
    mantissa, exponent = (text if "e" in text else f"{x:.2e}").split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _stage_order(key: str) -> int:
    """A table key's place: the position of the stage it belongs to (forward_large_logits is
    forward's, data_range is data's); keys of no stage (gradcheck) come last."""
    from parity.tolerances import STAGES

    for i, stage in enumerate(STAGES):
        if key == stage or key.startswith(stage + "_"):
            return i
    return len(STAGES)


def tolerances() -> str:
    """parity/tolerances.py: TABLE, one row per key, float64 and float32 side by side; INIT_Z."""
    from parity.tolerances import INIT_Z, TABLE

    keys = sorted(dict.fromkeys(stage for stage, _ in TABLE), key=_stage_order)
    rows = []
    for key in keys:
        f64, f32 = TABLE.get((key, "float64")), TABLE.get((key, "float32"))
        cells = [code(key)]
        for tol in (f64, f32):
            cells += ["-", "-"] if tol is None else [_number(tol.atol), _number(tol.rtol)]
        cells += [escape(tol.reason) if tol else "-" for tol in (f64, f32)]
        rows.append(cells)
    header = [
        "stage",
        "float64 atol",
        "float64 rtol",
        "float32 atol",
        "float32 rtol",
        "why (float64)",
        "why (float32)",
    ]
    init = (
        f"\n`init` is a statistic, not an equality: each weight matrix's sample standard "
        f"deviation must lie within `INIT_Z` = {INIT_Z:g} standard errors of the sigma its "
        f"scheme states, in both dtypes.\n"
    )
    return table(header, rows) + init


TARGETS = {
    "numpy": "the subject",
    "data": "the data pipeline",
    "torch": "the PyTorch port",
    "sklearn": "the scikit-learn port",
}


def catalogue_setup() -> str:
    """The selftest's data and base spec, from parity/selftest/catalogue.py."""
    from parity.report.text import describe_spec
    from parity.selftest.catalogue import BASE, N_TEST, N_TRAIN, WITNESSES

    return (
        f"Each defect is judged on a stratified, seeded MNIST subset of {N_TRAIN} training and "
        f"{N_TEST} test digits, against {' and '.join(WITNESSES)} (where the witness can "
        f'express the spec). The base spec: {describe_spec(BASE)}; the column "judged on" '
        f"says where a defect needs another net.\n"
    )


def _net(spec: object) -> str:
    """The parts of a mutant's spec that differ from the catalogue's base, in a few words."""
    from parity.selftest.catalogue import BASE

    words = []
    fields = ("sizes", "activation", "loss", "softmax_grad", "bias", "init", "batch_size", "lr")
    for field in (*fields, "epochs"):
        value, base = getattr(spec, field), getattr(BASE, field)
        if value == base:
            continue
        if field == "sizes":
            words.append("-".join(str(s) for s in value))
        elif field == "bias":
            words.append("biases" if value else "no biases")
        elif field == "batch_size":
            words.append(f"batch {value}")
        elif field in ("lr", "epochs"):
            words.append(f"lr {value:g}" if field == "lr" else f"{value} epoch{'s' * (value != 1)}")
        elif field == "softmax_grad":
            words.append(f"{value} softmax derivative")
        else:
            words.append(f"{value} {field}" if field in ("init", "loss") else str(value))
    return ", ".join(words) or "the base"


def catalogue() -> str:
    """parity/selftest/catalogue.py: CATALOGUE, one row per defect, in catalogue order."""
    from parity.selftest.catalogue import CATALOGUE

    rows = [
        [
            str(i),
            code(m.name),
            TARGETS.get(m.target, f"the {m.target} port"),
            escape(m.mistake),
            escape(_net(m.spec)),
            code(m.stage),
        ]
        for i, m in enumerate(CATALOGUE, start=1)
    ]
    return table(["#", "defect", "in", "the mistake", "judged on", "caught first at"], rows)


def catalogue_stages() -> str:
    """How many defects each stage must catch first, in stage order, and the total."""
    from parity.selftest.catalogue import CATALOGUE
    from parity.tolerances import STAGES

    counts = Counter(m.stage for m in CATALOGUE)
    rows = [[code(stage), str(counts[stage])] for stage in STAGES]
    return table(["stage", "defects it must catch first"], rows) + (
        f"\n{len(CATALOGUE)} defects in all.\n"
    )


# ---- tox.ini


def _tox(root: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "tox.ini")
    return parser


def _expand(pattern: str) -> list[str]:
    """tox's brace product: 'py311-numpy{126,20}' -> ['py311-numpy126', 'py311-numpy20']."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def tox_envs(root: Path = ROOT) -> list[str]:
    """tox.ini's env_list, expanded, in order (comment lines skipped)."""
    lines = _tox(root)["tox"]["env_list"].splitlines()
    patterns = [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]
    return [env for pattern in patterns for env in _expand(pattern)]


CONDITION = re.compile(r"^(?P<when>[!\w,-]+):\s*(?P<text>.*)$")


def applies(when: str, factors: set[str]) -> bool:
    """tox's factor condition: 'a,b' either, 'a-b' both, '!a' not a."""
    return any(
        all((f[1:] not in factors) if f.startswith("!") else (f in factors) for f in group)
        for group in (alt.split("-") for alt in when.split(","))
    )


def _conditional(value: str, factors: set[str], *, plain: bool = False) -> list[str]:
    """The lines of a multi-line tox setting whose factor condition holds; lines without a
    condition only when ``plain`` (the description's first line is tox's own template)."""
    texts = []
    for line in (s.strip() for s in value.splitlines()):
        match = CONDITION.match(line)
        if match and applies(match["when"], factors):
            texts.append(match["text"].strip())
        elif not match and plain and line and not line.startswith("#"):
            texts.append(line)
    return texts


def _commands(value: str) -> str:
    lines = [s for s in (line.strip() for line in value.splitlines()) if s]
    return "; ".join(code(line) for line in lines)


def matrix(root: Path = ROOT) -> str:
    """tox.ini: every environment of env_list with its Python, its pytest selection and what
    its factors mean ([testenv] description: one line per factor)."""
    tox = _tox(root)
    base = tox["testenv"]
    rows = []
    for env in tox_envs(root):
        factors = set(env.split("-"))
        own = tox[f"testenv:{env}"] if tox.has_section(f"testenv:{env}") else None
        python = next((f for f in sorted(factors) if re.fullmatch(r"py3\d+", f)), None)
        if python is None and own is not None and "base_python" in own:
            python = own["base_python"].strip()
        version = f"3.{python[3:]}" if python else "tox's"
        if own is not None and "commands" in own:
            runs = _commands(own["commands"])
            means = own.get("description", "").strip()
        else:
            marker = " ".join(_conditional(base.get("marker", ""), factors))
            runs = code(f'pytest -m "not slow{" " + marker if marker else ""}"')
            means = "; ".join(_conditional(base["description"], factors))
        deps = own["deps"] if own is not None and "deps" in own else base.get("deps", "")
        pins = ", ".join(code(d) for d in _conditional(deps, factors, plain=True)) or "newest"
        rows.append([code(env), version, pins, runs, escape(means)])
    return table(["environment", "Python", "pins", "runs", "what it is"], rows)


def ci_left_out(root: Path = ROOT) -> str:
    """The environments .ci/run leaves out of its tox run (its grep -vxE)."""
    ci = (root / ".ci" / "run").read_text()
    match = re.search(r"grep -vxE '([^']*)'", ci)
    if match is None:
        raise ValueError(".ci/run no longer filters the matrix with grep -vxE '...'")
    names = match.group(1).split("|")
    return ", ".join(code(n) for n in names) + "\n"


# ---- data and layout


def mnist_files() -> str:
    """parity/data/registry.py: the four files with their SHA-256, and the mirrors in order."""
    from parity.data.registry import MIRRORS, MNIST_SHA256

    rows = [[code(name), code(digest)] for name, digest in MNIST_SHA256.items()]
    mirrors = "\n".join(f"{i}. `{url}`" for i, url in enumerate(MIRRORS, start=1))
    return table(["file", "SHA-256"], rows) + f"\nMirrors, tried in this order:\n\n{mirrors}\n"


LAYOUT_DIRS = ("reference", "frameworks", "parity", "benchmarks")


def docstring_summary(path: Path) -> str:
    """The first paragraph of a module's docstring on one line ('-' when it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc:
        return "-"
    paragraph = doc.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split()).replace("``", "`")


def modules(root: Path = ROOT) -> str:
    """Every module of the source folders, with the first paragraph of its docstring."""
    rows = []
    for folder in LAYOUT_DIRS:
        for path in sorted((root / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            rows.append([code(rel), escape(docstring_summary(path))])
    return table(["module", "what it is (its docstring)"], rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "equivalence": equivalence,
    "tolerances": tolerances,
    "catalogue-setup": catalogue_setup,
    "catalogue": catalogue,
    "catalogue-stages": catalogue_stages,
    "matrix": matrix,
    "ci-left-out": ci_left_out,
    "mnist-files": mnist_files,
    "modules": modules,
}


# --------------------------------------------------------------------------- files


def blocks(text: str) -> list[tuple[str, str]]:
    """(name, body) of every generated block in a Markdown text, in order."""
    return [(m["name"], m["body"]) for m in BLOCK.finditer(text)]


def regenerate(text: str, cache: dict[str, str] | None = None) -> str:
    """``text`` with the body of every generated block rebuilt; an unknown name raises."""
    cache = {} if cache is None else cache

    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in GENERATORS:
            raise KeyError(f"no generator {name!r}; known: {', '.join(GENERATORS)}")
        if name not in cache:
            cache[name] = GENERATORS[name]()
        return match["open"] + cache[name] + match["close"]

    return BLOCK.sub(body, text)


def diff(path: Path, old: str, new: str) -> str:
    """A unified diff from the file's text to the regenerated one."""
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{rel} (as committed)",
        tofile=f"{rel} (generated from the code)",
    )
    return "".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.doctables",
        description="Rebuild (or check) the generated tables in README.md and docs/*.md.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite stale blocks in place")
    action.add_argument("--check", action="store_true", help="print diffs; exit 1 when stale")
    args = parser.parse_args(argv)
    cache: dict[str, str] = {}
    stale = 0
    for path in doc_files():
        old = path.read_text(encoding="utf-8")
        new = regenerate(old, cache)
        if new == old:
            continue
        stale += 1
        if args.write:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")
        else:
            print(diff(path, old, new))
    if args.check and stale:
        print(f"{stale} file(s) stale: run {COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
