"""The files of ``--out DIR``: report.json (stable keys), report.md, report.html, the plots."""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from parity.report.html import svg_figures, write_html
from parity.report.markdown import markdown
from parity.report.model import Report


def write_json(report: Report, path: Path) -> None:
    """report.json: ``Report.to_dict`` as strict JSON (inf and NaN, never measured, become null)."""
    path.write_text(json.dumps(_strict(report.to_dict()), indent=2, allow_nan=False) + "\n")


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if hasattr(value, "tolist"):
        return _strict(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def prepare_out(out: Path) -> None:
    """Create the ``--out`` folder (and parents) or raise OSError/NotADirectoryError saying why."""
    out.mkdir(parents=True, exist_ok=True)
    if not out.is_dir():
        raise NotADirectoryError(f"{out} is not a folder")


def write_outputs(report: Report, out: Path) -> list[Path]:
    """report.json, report.md, report.html and the plots, written into ``out`` all or nothing.

    Each file is first written in a hidden temporary folder inside ``out`` and moved into place
    only when all are complete, so an interrupted run never leaves a half-written report.
    Without matplotlib the plots are left out (report.html says so too), with a line on stderr
    saying how to get them.
    """
    with tempfile.TemporaryDirectory(dir=out, prefix=".report-") as tmp:
        staging = Path(tmp)
        write_json(report, staging / "report.json")
        plots: list[Path] = []
        figures: dict[str, str] = {}
        try:
            from parity.report.plots import plot_curves, plot_divergence
        except ImportError as error:  # matplotlib missing: say so, write the rest
            print(f"no plots: {error}; pip install 'mlp-parity[plots]'", file=sys.stderr)
        else:
            plots = [
                plot_curves(report, staging / "curves.png"),
                plot_divergence(report, staging / "divergence.png"),
            ]
            figures = svg_figures(report, staging)  # the same plots, inline in report.html
        (staging / "report.md").write_text(markdown(report, [p.name for p in plots]))
        write_html(report, staging / "report.html", figures)
        names = ["report.json", "report.md", "report.html", *(p.name for p in plots)]
        for name in names:
            os.replace(staging / name, out / name)
    return [out / name for name in names]
