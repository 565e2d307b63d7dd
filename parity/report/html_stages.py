"""report.html's stage x pair table (each row expands to every tensor) and the floor table."""

from __future__ import annotations

import math
from typing import Any

from parity.report.html_parts import esc, exact, number, row, table

RANK = {"fail": 0, "indeterminate": 1, "pass": 2}  # the table's order: failures first
# The result right after the stage: on a phone's width these two are what shows unscrolled.
STAGE_HEADER = ("stage", "result", "pair", "worst tensor", "max|diff|", "rel", "bound",
                "tensors")  # fmt: skip
TENSOR_HEADER = ("tensor", "result", "shape", "max|diff|", "rel", "at index", "actual",
                 "expected", "atol", "rtol", "bound", "tolerance reason")  # fmt: skip


def stage_outcome(stage: dict[str, Any]) -> str:
    """pass | fail | indeterminate: ``outcome`` when given, else from ``passed``."""
    if stage.get("outcome") in RANK:
        return str(stage["outcome"])
    return "pass" if stage.get("passed") else "fail"


def _is(stage: dict[str, Any], first: dict[str, Any]) -> bool:
    """Whether ``stage`` is the verdict's first failure (same stage, same pair)."""
    where = (first.get("stage"), list(first.get("pair") or []))
    return bool(first) and (stage.get("stage"), list(stage.get("pair", []))) == where


def ordered(report: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(index in report["stages"], stage): the first failure first, then the other failures,
    the indeterminate, the passes, each in the report's order."""
    first = report["verdict"].get("first_failure") or {}

    def key(item: tuple[int, dict[str, Any]]) -> tuple[int, int, int]:
        i, stage = item
        return (0 if _is(stage, first) else 1, RANK[stage_outcome(stage)], i)

    return sorted(enumerate(report.get("stages") or []), key=key)


def stage_table(report: dict[str, Any]) -> str:
    """Every stage and pair, failures first; a row's button shows its tensors' comparisons."""
    first = report["verdict"].get("first_failure") or {}
    floor = _floor_index(report.get("floor"))
    rows = []
    for position, (i, stage) in enumerate(ordered(report)):
        outcome = stage_outcome(stage)
        # The top row opens with the page when it did not pass (the first failure, or the first
        # indeterminate stage); the rest open on demand: the page would be long otherwise.
        open_ = position == 0 and outcome != "pass"
        message = first.get("message") if _is(stage, first) else None
        rows.append(_stage_row(i, stage, outcome, open_=open_))
        rows.append(_detail_row(i, stage, outcome, floor, message, open_=open_))
    intro = (
        "<p>One row per stage and pair (actual vs expected), failures first. The worst tensor is "
        "the first failing one, else the one closest to its bound. Open a row (its button, or "
        "click it) for every tensor: the error, where it is, both values and the tolerance.</p>"
    )
    header = [esc(h) for h in STAGE_HEADER]
    return intro + table(header, rows, label="stages", cls="stages")


def _worst(comparisons: list[dict[str, Any]]) -> dict[str, Any] | None:
    failing = [c for c in comparisons if not c.get("passed")]
    if failing:
        return failing[0]
    return max(comparisons, key=_closeness, default=None)


def _bound(c: dict[str, Any]) -> float | None:
    tol = c.get("tolerance") or {}
    atol, rtol, scale = tol.get("atol") or 0.0, tol.get("rtol") or 0.0, c.get("scale")
    if not rtol:
        return float(atol)
    if not isinstance(scale, (int, float)) or math.isnan(scale):
        return None
    return float(atol + rtol * scale)


def _closeness(c: dict[str, Any]) -> float:
    bound, err = _bound(c), c.get("max_abs")
    if not isinstance(err, (int, float)) or bound is None:
        return 0.0
    return err / bound if bound > 0 else (0.0 if err == 0 else math.inf)


def _pair(stage: dict[str, Any]) -> str:
    return " vs ".join(str(p) for p in stage.get("pair", []))


def _result(outcome: str) -> str:
    word = {"pass": "pass", "fail": "FAIL", "indeterminate": "INDETERMINATE"}[outcome]
    return f'<span class="result result-{outcome}">{word}</span>'


def _stage_row(i: int, stage: dict[str, Any], outcome: str, *, open_: bool) -> str:
    comparisons = stage.get("comparisons") or []
    worst = _worst(comparisons) or {}
    button = (
        f'<button type="button" class="toggle" aria-expanded="{str(open_).lower()}" '
        f'aria-controls="detail-{i}">{esc(stage.get("stage", "?"))}</button>'
    )
    cells = [
        _result(outcome),
        f'<span class="nowrap">{esc(_pair(stage))}</span>',
        esc(worst.get("tensor", "-")),
        f'<span class="num">{esc(number(worst.get("max_abs")))}</span>',
        f'<span class="num">{esc(number(worst.get("max_rel")))}</span>',
        f'<span class="num">{esc(number(_bound(worst)) if worst else "-")}</span>',
        f'<span class="num">{len(comparisons)}</span>',
    ]
    attrs = f' id="stage-{i}" data-index="{i}" data-outcome="{outcome}"'
    return row(cells, head=button, cls=f"stage-row outcome-{outcome}", attrs=attrs)


def _detail_row(
    i: int,
    stage: dict[str, Any],
    outcome: str,
    floor: dict[tuple[str, str, str], dict[str, Any]],
    message: str | None,
    *,
    open_: bool,
) -> str:
    comparisons = stage.get("comparisons") or []
    pair = [str(p) for p in stage.get("pair", [])] + ["actual", "expected"]
    header = [esc(h) for h in TENSOR_HEADER]
    header[6], header[7] = f"{esc(pair[0])} (actual)", f"{esc(pair[1])} (expected)"
    rows = [_tensor_row(c, stage, floor) for c in comparisons]
    failing = [c for c in comparisons if not c.get("passed")]
    lead = ""
    if failing and outcome != "pass":
        text = message or _message(failing[0])  # the judge's own words for the first failure
        label = "first failing comparison" if message else "failing comparison"
        lead = f'<p class="message"><strong>{label}:</strong> <code>{esc(text)}</code></p>'
    label = f"tensors of {stage.get('stage', '?')}, {_pair(stage)}"
    hidden = "" if open_ else " hidden"
    return (
        f'<tr class="detail" id="detail-{i}"{hidden}><td colspan="{len(STAGE_HEADER)}">'
        f"{lead}{table(header, rows, label=label, cls='tensors')}</td></tr>"
    )


def _message(c: dict[str, Any]) -> str:
    """A failing comparison in one line when the dict has no message of its own."""
    head = f"{c.get('stage', '?')} {' vs '.join(c.get('pair', []))} {c.get('tensor', '?')}"
    if c.get("problem"):
        return f"{head}: {c['problem']}"
    if c.get("detail"):
        return f"{head}: {c['detail']}"
    return (
        f"{head}: max|diff| {number(c.get('max_abs'), '.3e')} at {c.get('index')}: "
        f"{exact(c.get('actual'))} vs {exact(c.get('expected'))}; bound {number(_bound(c), '.1e')}"
    )


def _tensor_row(
    c: dict[str, Any], stage: dict[str, Any], floor: dict[tuple[str, str, str], dict[str, Any]]
) -> str:
    tol = c.get("tolerance") or {}
    if c.get("passed"):
        verdict = "pass"
    else:
        entry = floor.get((str(stage.get("stage")), _pair(stage), str(c.get("tensor"))))
        verdict = "indeterminate" if entry and entry.get("within") else "fail"
    note = c.get("problem") or c.get("detail")
    result = _result(verdict) + (f"<br>{esc(note)}" if note else "")
    index = c.get("index")
    num = '<span class="num">{}</span>'.format
    cells = [
        result,
        num(esc(tuple(c.get("shape") or ()))),
        num(esc(number(c.get("max_abs")))),
        num(esc(number(c.get("max_rel")))),
        num(esc(list(index) if index is not None else "-")),
        num(esc(exact(c.get("actual")))),
        num(esc(exact(c.get("expected")))),
        num(esc(number(tol.get("atol"), "g"))),
        num(esc(number(tol.get("rtol"), "g"))),
        num(esc(number(_bound(c)))),
        f'<span class="reason">{esc(tol.get("reason") or "-")}</span>',
    ]
    return row(cells, head=esc(c.get("tensor", "?")), cls=f"tensor outcome-{verdict}")


def _floor_index(floor: dict[str, Any] | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    entries = (floor or {}).get("stages") or []
    return {
        (str(e.get("stage")), " vs ".join(e.get("pair") or []), str(e.get("tensor"))): e
        for e in entries
    }


FLOOR_HEADER = ("stage", "pair", "tensor", "observed", "floor", "within floor", "per nudge")


def floor_table(floor: dict[str, Any] | None) -> str:
    """The noise floor per training stage: the observed difference against rounding's own."""
    if not floor:
        return ""
    rows = []
    for e in floor.get("stages") or []:
        within = bool(e.get("within"))
        values = e.get("values") or []
        shown = ", ".join(number(v, ".1e") for v in values[:8]) + (", …" if len(values) > 8 else "")
        cells = [
            esc(" vs ".join(e.get("pair") or [])),
            esc(e.get("tensor", "-")),
            f'<span class="num">{esc(number(e.get("observed")))}</span>',
            f'<span class="num">{esc(number(e.get("floor")))}</span>',
            "yes" if within else "no",
            f'<span class="num">{esc(shown or "-")}</span>',
        ]
        rows.append(row(cells, head=esc(e.get("stage", "?"))))
    intro = (
        "<h2>Noise floor</h2><p>How far the reference drifts from itself when its initial "
        "weights, training inputs and activations move by one ulp: a training stage beyond its "
        "table entry but within this floor is indeterminate (rounding alone could explain it), "
        "beyond it a failure.</p>"
    )
    return intro + table([esc(h) for h in FLOOR_HEADER], rows, label="noise floor", cls="floor")
