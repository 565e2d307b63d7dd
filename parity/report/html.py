"""report.html: the run as one self-contained page, built from ``Report.to_dict()``.

The page is generated from the same dict report.json is written from (never from the
Markdown): a verdict banner, the frameworks, the stage x pair table whose rows expand to every
tensor's comparison, the noise floor when measured, the plots (inline SVG) and the equivalence
map. No network: inline style and script, ``data:`` images, a Content-Security-Policy saying so.
Keys of schema "mlp-parity/report/2" (verdict.status, floor, stage outcome, skipped stages)
are used when present; a report/1 dict renders from ``passed`` alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from frameworks import equivalence
from parity.report.html_parts import (
    CSP,
    CSS,
    NOSCRIPT_CSS,
    SCRIPT,
    aside,
    esc,
    inline_markdown,
    number,
    row,
    seconds,
    svg_image,
    table,
)
from parity.report.html_stages import floor_table, stage_table
from parity.report.model import Report

STATUSES = ("PASS", "FAIL", "INDETERMINATE", "NO VERDICT")


def write_html(report: Report, path: Path, figures: dict[str, str] | None = None) -> Path:
    """report.html for ``report``; ``figures`` (name -> SVG text) are drawn here when None."""
    if figures is None:
        with tempfile.TemporaryDirectory() as tmp:
            figures = svg_figures(report, Path(tmp))
    path.write_text(html(report.to_dict(), figures), encoding="utf-8")
    return path


def svg_figures(report: Report, folder: Path) -> dict[str, str]:
    """The plots as SVG text ("curves", "divergence"); {} without matplotlib.

    The plot functions choose the format from the file's suffix; the files are removed after.
    """
    try:
        from parity.report.plots import plot_curves, plot_divergence
    except ImportError:
        return {}
    figures = {}
    for name, plot in (("curves", plot_curves), ("divergence", plot_divergence)):
        path = plot(report, folder / f"{name}.svg")
        figures[name] = path.read_text(encoding="utf-8")
        path.unlink()
    return figures


def html(report: dict[str, Any], figures: dict[str, str]) -> str:
    """The page for a ``Report.to_dict()`` dict; ``figures`` maps a plot's name to SVG text."""
    status = verdict_status(report["verdict"])
    spec = report.get("spec") or {}
    title = f"mlp-parity: {status} ({_model(spec)})"
    body = [
        "<h1>mlp-parity report</h1>",
        _banner(report, status),
        _facts(report),
        "<h2>Frameworks</h2>",
        _frameworks(report),
        "<h2>Stages</h2>",
        stage_table(report),
        floor_table(report.get("floor")),
        "<h2>Plots</h2>",
        _plots(report, figures),
        "<h2>Equivalence map</h2>",
        _equivalence(list(report.get("frameworks") or {})),
        f"<footer>schema {esc(report.get('schema', '?'))}; written by mlp-parity</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<link rel="icon" href="data:,"><title>{esc(title)}</title>'
        f"<style>{CSS}</style><noscript><style>{NOSCRIPT_CSS}</style></noscript></head>\n"
        f"<body><main>{''.join(body)}</main><script>{SCRIPT}</script></body></html>\n"
    )


# --------------------------------------------------------------------------- verdict and facts


def verdict_status(verdict: dict[str, Any]) -> str:
    """PASS | FAIL | INDETERMINATE | NO VERDICT: ``status`` when given, else from ``passed``."""
    if verdict.get("status") in STATUSES:
        return str(verdict["status"])
    if verdict.get("passed"):
        return "PASS"
    return "FAIL" if verdict.get("first_failure") else "NO VERDICT"


def _banner(report: dict[str, Any], status: str) -> str:
    verdict = report["verdict"]
    cls = status.lower().replace(" ", "-")
    extra = []
    if verdict.get("held_through_step") is not None and not report.get("floor"):
        extra.append(f"parity held within the table through step {verdict['held_through_step']}")
    if verdict.get("exit_status") is not None:
        extra.append(f"exit status {verdict['exit_status']}")
    tail = f'<p class="line muted">{esc("; ".join(extra))}</p>' if extra else ""
    return (
        f'<section class="verdict {cls}" id="verdict" aria-label="verdict">'
        f'<p class="status" id="verdict-status">{esc(status)}</p>'
        f'<p class="line" id="verdict-line">{esc(verdict.get("line", ""))}</p>{tail}</section>'
        + _floor_box(report.get("floor"), verdict, status)
    )


def _floor_box(floor: dict[str, Any] | None, verdict: dict[str, Any], status: str) -> str:
    """What the noise floor says: how far rounding alone carries the reference from itself."""
    if not floor:
        return ""
    reached = floor.get("reached") or {}
    regime = {
        "INDETERMINATE": " (chaotic regime)",
        "FAIL": ", and the difference found goes beyond that: not rounding",
    }.get(status, "")
    text = (
        f"Rounding alone grows to {number(reached.get('value'), '.1e')} by step "
        f"{reached.get('step', '?')}{regime}. That is how far the reference drifts from itself "
        f"when its initial weights, training inputs and activations move by one ulp "
        f"({floor.get('nudges', '?')} nudges, margin "
        f"{number(floor.get('margin'), 'g')}, measured in {seconds(floor.get('seconds'))})."
    )
    held = verdict.get("held_through_step")
    if held is not None:
        text += f" Parity held within the table through step {held}."
    return aside(text, box_id="floor-note", label="noise floor")


def _model(spec: dict[str, Any]) -> str:
    sizes = "-".join(str(s) for s in spec.get("sizes", []))
    return f"{sizes} {spec.get('activation', '?')}, {spec.get('dtype', '?')}"


def _facts(report: dict[str, Any]) -> str:
    spec, plan, data = report.get("spec") or {}, report.get("plan") or {}, report.get("data") or {}
    timing = report.get("timing") or {}
    bias = "biases" if spec.get("bias") else "no biases"
    model = (
        f"{_model(spec)}; softmax + {spec.get('loss', '?')}, {bias}, {spec.get('init', '?')} init"
    )
    training = (
        f"SGD lr {number(spec.get('lr'), 'g')}, batch {plan.get('batch_size', '?')}, "
        f"{plan.get('epochs', '?')} epochs of {plan.get('steps_per_epoch', '?')} steps, "
        f"seed {plan.get('seed', '?')}; steps stage after {plan.get('k_steps', '?')} steps, "
        f"probes of {plan.get('probe_size', '?')} digits"
    )
    time = (
        f"{seconds(timing.get('total_seconds'))} in all: "
        f"{seconds(timing.get('training_seconds'))} training, "
        f"{seconds(timing.get('judge_seconds'))} judging"
    )
    items = [("Model", model), ("Training", training), ("Data", _data(data)), ("Time", time)]
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="facts">{facts}</dl>{_notice(data)}'


def _data(data: dict[str, Any]) -> str:
    source = data.get("source") or {}
    what = "the 5,000-digit MNIST SAMPLE" if source.get("is_sample") else "MNIST"
    where = f" ({source['path']})" if source.get("path") else ""
    sizes = f"{data.get('n_train', '?')} train / {data.get('n_test', '?')} test"
    subset = f"; {source['subset']}" if source.get("subset") else ""
    return f"{what} from {source.get('kind', 'given arrays')}{where}: {sizes}{subset}"


def _notice(data: dict[str, Any]) -> str:
    source = data.get("source") or {}
    notice = source.get("notice")
    if not notice and not source.get("is_sample"):
        return ""
    text = notice or "this run used the MNIST sample, not the full data set"
    return aside(text, box_id="data-notice", label="data notice")


# --------------------------------------------------------------------------- frameworks


FRAMEWORK_HEADER = ("framework", "status", "versions", "training", "s/epoch", "final loss",
                    "test accuracy", "reason / skipped stages")  # fmt: skip


def _frameworks(report: dict[str, Any]) -> str:
    rows = [_framework_row(name, run) for name, run in (report.get("frameworks") or {}).items()]
    header = [esc(h) for h in FRAMEWORK_HEADER]
    return table(header, rows, label="frameworks", cls="frameworks")


def _framework_row(name: str, run: dict[str, Any]) -> str:
    per_epoch = run.get("seconds_per_epoch") or []
    mean = sum(per_epoch) / len(per_epoch) if per_epoch else None
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    accuracy = run.get("test_accuracy")
    notes = [run["reason"]] if run.get("reason") else []
    notes += [f"skipped {stage}: {why}" for stage, why in (run.get("skipped") or {}).items()]
    status = run.get("status", "?")
    cells = [
        f'<span class="{"result-pass" if status == "ok" else "muted"}">{esc(status)}</span>',
        esc(versions or "-"),
        f'<span class="num">{esc(seconds(run.get("seconds")))}</span>',
        f'<span class="num">{esc(seconds(mean) if mean is not None else "-")}</span>',
        f'<span class="num">{esc(number(run.get("final_loss"), ".4f"))}</span>',
        f'<span class="num">{esc(number(accuracy, ".2%"))}</span>',
        "<br>".join(esc(n) for n in notes) or "-",
    ]
    return row(cells, head=esc(name))


# --------------------------------------------------------------------------- plots and map


def _plots(report: dict[str, Any], figures: dict[str, str]) -> str:
    if not figures:
        return (
            "<p class='muted'>No plots: they need matplotlib (pip install 'mlp-parity[plots]').</p>"
        )
    runs = report.get("frameworks") or {}
    described = {
        "curves": (
            "Training loss and test accuracy per epoch, one line per framework",
            "Two line plots, training loss (left) and test accuracy (right) per epoch; final "
            + "; ".join(
                f"{n}: loss {number(r.get('final_loss'), '.4f')}, "
                f"accuracy {number(r.get('test_accuracy'), '.2%')}"
                for n, r in runs.items()
                if r.get("loss")
            ),
        ),
        "divergence": (
            "How far each framework's weights drift from the reference, per SGD step",
            "Log-scale line plot of max |W - W_reference| over all weights at each logged step; "
            + "; ".join(
                f"{n}: largest {number(_largest(d.get('max_abs_dW')), '.1e')}"
                for n, d in (report.get("divergence") or {}).items()
            )
            + "; the dashed line is the train_params tolerance",
        ),
    }
    out = []
    for name, svg in figures.items():
        caption, alt = described.get(name, (name, f"plot: {name}"))
        out.append(svg_image(svg, alt=alt, caption=caption, figure_id=f"plot-{name}"))
    return "".join(out)


def _equivalence(names: Sequence[str]) -> str:
    """The map's rows for the frameworks of this run, its Markdown as <code>/<strong>."""
    header = [inline_markdown(h) for h in equivalence.header(list(names))]
    rows = [
        row([inline_markdown(c) for c in cells], head=esc(concept))
        for concept, *cells in equivalence.rows(list(names))
    ]
    return (
        "<p>How each framework expresses each part of the same model, and the traps its "
        "adapter handles.</p>" + table(header, rows, label="equivalence map", cls="equivalence")
    )


def _largest(values: Sequence[Any] | None) -> float | None:
    finite = [v for v in values or [] if isinstance(v, (int, float)) and v == v]
    return max(finite, default=None)
