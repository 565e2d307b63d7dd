"""A judge run as text: one-line descriptions, the framework and stage tables, the console."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from parity.report.model import NUDGED, Report, StageResult
from reference.spec import Spec


def describe_spec(spec: Spec) -> str:
    """One line: sizes, activation, loss, dtype and SGD settings."""
    sizes = "-".join(str(s) for s in spec.sizes)
    extra = f" ({spec.softmax_grad} softmax derivative)" if spec.loss == "squared_error" else ""
    bias = "biases" if spec.bias else "no biases"
    return (
        f"{sizes} {spec.activation}, softmax + {spec.loss}{extra}, {bias}, {spec.init} init, "
        f"{spec.dtype}, batch {spec.batch_size}, lr {spec.lr:g}, {spec.epochs} epochs, "
        f"seed {spec.seed}"
    )


def describe_data(data: dict[str, Any]) -> str:
    """One line: where the data came from and how much of it was used."""
    source = data.get("source") or {}
    kind = source.get("kind", "given arrays")
    what = "the 5,000-digit MNIST SAMPLE" if source.get("is_sample") else "MNIST"
    where = f" ({source['path']})" if source.get("path") else ""
    cut = f"; {source['subset']}" if source.get("subset") else ""
    return f"{what} from {kind}{where}: {data['n_train']:,} train / {data['n_test']:,} test{cut}"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(value: float | None, fmt: str = ".4f") -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, fmt)
    )


FRAMEWORK_HEADER = ("framework", "status", "final loss", "test acc", "s/epoch", "versions / reason")


def framework_rows(report: Report) -> list[list[str]]:
    """Per framework: status, final training loss, test accuracy, seconds per epoch."""
    rows = []
    for name, run in report.runs.items():
        h = run.history
        per_epoch = sum(h.seconds) / len(h.seconds) if h and h.seconds else None
        acc = run.test_accuracy
        info = run.reason or ", ".join(f"{k} {v}" for k, v in run.versions.items())
        rows.append(
            [
                name,
                run.status,
                _num(run.final_loss),
                "-" if acc is None else f"{acc:.2%}",
                _num(per_epoch, ".2f"),
                info,
            ]
        )
    return rows


def skipped_lines(report: Report) -> list[str]:
    """Per implementation that took no part in some stages: which, and why."""
    lines = []
    for name, run in report.runs.items():
        by_reason: dict[str, list[str]] = {}
        for stage, reason in run.skipped.items():
            by_reason.setdefault(reason, []).append(stage)
        lines += [f"{name}: {', '.join(stages)} ({reason})" for reason, stages in by_reason.items()]
    return lines


STAGE_HEADER = ("stage", "pair", "worst tensor", "max|diff|", "rel", "tolerance", "result")


def stage_rows(report: Report) -> list[list[str]]:
    """Per stage and pair: the worst comparison (failing first), its error and the bound."""
    rows = []
    for result in report.stages:
        worst = result.worst
        if worst is None:
            continue
        rows.append(_stage_row(result, worst))
    return rows


RESULT_WORDS = {"pass": "pass", "fail": "FAIL", "indeterminate": "within floor"}


def _stage_row(result: StageResult, worst: Any) -> list[str]:
    pair = f"{result.pair[0]} vs {result.pair[1]}"
    word = RESULT_WORDS[result.outcome]
    if worst.problem:
        cells = ["-", "-", worst.tolerance.describe(), f"{word}: {worst.problem}"]
    elif worst.detail:
        cells = [
            _num(worst.max_abs, ".0f"),
            "-",
            worst.tolerance.describe(),
            f"{word}: {worst.detail}",
        ]
    else:
        rel = f"{worst.max_rel:.1e}" if math.isfinite(worst.max_rel) else "-"
        cells = [f"{worst.max_abs:.1e}", rel, f"{worst.bound:.1e}", word]
    return [result.stage, pair, worst.tensor, *cells]


def floor_lines(report: Report) -> list[str]:
    """What the noise floor measured, when it was measured: one line per failing tensor."""
    floor = report.floor
    if floor is None:
        return []
    lines = [
        f"noise floor: the reference against itself under {floor.nudges} {NUDGED}, "
        f"{floor.seconds:.1f} s; within floor = at most {floor.margin:g}x the largest"
    ]
    for row in floor.to_dict(report.stages)["stages"]:
        a, b = row["pair"]
        verdict = "within floor" if row["within"] else "ABOVE floor: FAIL"
        lines.append(
            f"  {row['stage']} {a} vs {b} {row['tensor']}: {row['observed']:.1e} against "
            f"{row['floor']:.1e} ({verdict})"
        )
    return lines


def failure_messages(report: Report) -> list[str]:
    """Every comparison beyond its table entry, in stage order (those within the noise floor
    included: they are the INDETERMINATE verdict's evidence)."""
    return [c.message() for s in report.stages for c in s.comparisons if not c.passed]


def console(report: Report) -> str:
    """The run's summary for a terminal: setup, two tables, failures, the verdict line."""
    parts = [
        f"model: {describe_spec(report.spec)}",
        f"data:  {describe_data(report.data)}",
        "",
        table(framework_rows(report), FRAMEWORK_HEADER),
        "",
        table(stage_rows(report), STAGE_HEADER),
    ]
    skipped = skipped_lines(report)
    if skipped:
        parts += ["", "skipped stages:", *[f"  {line}" for line in skipped]]
    failures = failure_messages(report)
    if failures:
        parts += ["", "beyond the table:", *[f"  {m}" for m in failures[:20]]]
        if len(failures) > 20:
            parts.append(f"  ... and {len(failures) - 20} more (see report.json)")
    if report.floor is not None:
        parts += ["", *floor_lines(report)]
    timing = report.to_dict()["timing"]
    parts += [
        "",
        f"time: {timing['total_seconds']:.1f} s in all, {timing['training_seconds']:.1f} s "
        f"training, {timing['judge_seconds']:.1f} s judging",
        f"VERDICT: {report.verdict()}",
    ]
    return "\n".join(parts)
