"""report.md: the run for people, in GitHub-flavoured Markdown, with the plots embedded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from parity.report.model import Report
from parity.report.text import (
    FRAMEWORK_HEADER,
    STAGE_HEADER,
    describe_data,
    describe_spec,
    failure_messages,
    floor_lines,
    framework_rows,
    skipped_lines,
    stage_rows,
)


def markdown_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A GitHub-flavoured Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def markdown(report: Report, plots: Sequence[str] = ()) -> str:
    """report.md: the same content for people, with the plots embedded when written."""
    notice = (report.data.get("source") or {}).get("notice")
    parts = [
        "# mlp-parity report",
        "",
        f"**Verdict:** {report.verdict()}",
        "",
        f"- model: {describe_spec(report.spec)}",
        f"- data: {describe_data(report.data)}",
    ]
    if notice:
        parts.append(f"- notice: {notice}")
    parts += [
        "",
        "## Frameworks",
        "",
        markdown_table(framework_rows(report), FRAMEWORK_HEADER),
        "",
        "## Stages",
        "",
        "Each row is the worst tensor of the stage for that pair (a failing one if any).",
        "",
        markdown_table(stage_rows(report), STAGE_HEADER),
    ]
    skipped = skipped_lines(report)
    if skipped:
        parts += ["", "## Skipped stages", "", *[f"- {line}" for line in skipped]]
    failures = failure_messages(report)
    if failures:
        parts += ["", "## Beyond the table", "", *[f"- `{m}`" for m in failures]]
    floor = floor_lines(report)
    if floor:
        parts += [
            "",
            "## Noise floor",
            "",
            floor[0],
            "",
            *[f"- `{line.strip()}`" for line in floor[1:]],
        ]
    if plots:
        parts += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(parts) + "\n"
