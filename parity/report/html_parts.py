"""report.html's building blocks: the inline style and script, escaping, numbers, tables.

The page is one self-contained file: its Content-Security-Policy (a meta tag in the page
itself) allows nothing but inline style, inline script and ``data:`` images, so a browser
opening it from disk makes no network request at all.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

# Colours by outcome: text on its background meets WCAG AA contrast (4.5:1) in every pair.
CSS = """
:root { --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #b42318; --fail-bg: #ffebe9;
  --indet: #8a5300; --indet-bg: #fff4d6; --none: #4b5563; --none-bg: #eef0f3;
  --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  margin: 0 auto; padding: 0.75rem; max-width: 80rem; overflow-wrap: anywhere; }
h1 { font-size: 1.4rem; margin: 0.25rem 0 0.75rem; }
h2 { font-size: 1.15rem; margin: 1.75rem 0 0.5rem; border-bottom: 1px solid var(--line); }
code, .num { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.88em; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.verdict { border-left: 0.4rem solid var(--none); background: var(--none-bg);
  padding: 0.6rem 0.9rem; border-radius: 0.3rem; }
.verdict .status { font-size: 1.5rem; font-weight: 700; margin: 0; letter-spacing: 0.03em; }
.verdict .line { margin: 0.25rem 0 0; }
.verdict.pass { border-color: var(--pass); background: var(--pass-bg); }
.verdict.pass .status { color: var(--pass); }
.verdict.fail { border-color: var(--fail); background: var(--fail-bg); }
.verdict.fail .status { color: var(--fail); }
.verdict.indeterminate { border-color: var(--indet); background: var(--indet-bg); }
.verdict.indeterminate .status { color: var(--indet); }
.verdict.no-verdict .status { color: var(--none); }
.box { border: 1px solid var(--line); border-radius: 0.3rem; padding: 0.5rem 0.9rem;
  margin: 0.75rem 0; }
.box p { margin: 0.2rem 0; }
.box.notice { border-color: var(--indet); background: var(--indet-bg); }
dl.facts { display: grid; grid-template-columns: minmax(5rem, max-content) 1fr;
  gap: 0.2rem 0.9rem; margin: 0.5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.5rem 0;
  border: 1px solid var(--line); border-radius: 0.3rem; }
table { border-collapse: collapse; width: 100%; overflow-wrap: normal; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.55rem;
  border-bottom: 1px solid var(--line); background: #fff; }
thead th { background: #f6f8fa; white-space: nowrap; }
/* The row header stays in view while a wide table scrolls under it. */
tbody th[scope="row"] { position: sticky; left: 0; z-index: 1; }
thead th:first-child { position: sticky; left: 0; z-index: 2; }
.nowrap { white-space: nowrap; }
.scroll tr.outcome-fail > * { background: var(--fail-bg); }
.scroll tr.outcome-fail > th { box-shadow: inset 0.3rem 0 0 var(--fail); }
.scroll tr.outcome-indeterminate > * { background: var(--indet-bg); }
.scroll tr.outcome-indeterminate > th { box-shadow: inset 0.3rem 0 0 var(--indet); }
.reason { display: inline-block; min-width: 12rem; }
table.equivalence td { min-width: 13rem; }
.result-fail { color: var(--fail); font-weight: 700; }
.result-indeterminate { color: var(--indet); font-weight: 700; }
.result-pass { color: var(--pass); }
tr.stage-row { cursor: pointer; }
tr.detail > td { background: #f6f8fa; padding: 0.5rem; }
tr.detail table { font-size: 0.92em; }
tr.detail th, tr.detail td { padding: 0.25rem 0.4rem; }
button.toggle { font: inherit; font-weight: 600; background: none; border: 0; padding: 0;
  color: inherit; cursor: pointer; text-align: left; white-space: nowrap; }
button.toggle::before { content: "\\25B8"; display: inline-block; width: 1.1em; }
button.toggle[aria-expanded="true"]::before { content: "\\25BE"; }
button.toggle:focus-visible { outline: 2px solid #0969da; outline-offset: 2px; }
/* The message stays in view, wrapped to the screen, however far its table is scrolled. */
p.message { margin: 0 0 0.5rem; position: sticky; left: 0.5rem; max-width: calc(100vw - 3rem); }
figure { margin: 0.75rem 0; }
/* At its own size at most; a phone scrolls it sideways rather than shrink its labels past
   reading (min-width wins over max-width). */
figure .scroll { border: 0; }
figure img { display: block; max-width: 100%; min-width: 36rem; height: auto; }
figcaption { color: var(--muted); font-size: 0.9em; }
footer { margin-top: 2rem; color: var(--muted); font-size: 0.85em; }
"""

# Without script, every detail row is shown (and the toggles, which do nothing, are not).
NOSCRIPT_CSS = "tr.detail[hidden] { display: table-row; } button.toggle::before { content: none; }"

# A stage row's button (or a click anywhere on the row) shows or hides the row after it.
SCRIPT = """
(function () {
  function toggle(button) {
    var row = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    row.hidden = !open;
  }
  document.querySelectorAll("tr.stage-row").forEach(function (tr) {
    var button = tr.querySelector("button.toggle");
    tr.addEventListener("click", function (event) {
      if (!window.getSelection().toString()) { toggle(button); }
    });
    button.addEventListener("click", function (event) { event.stopPropagation(); toggle(button); });
  });
})();
"""


def esc(value: object) -> str:
    """Any value from the report as HTML text (quotes escaped too: safe in attributes)."""
    return escape(str(value), quote=True)


_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*")


def inline_markdown(text: str) -> str:
    """The equivalence map's Markdown: `code` and **bold** as <code>/<strong>, the rest escaped."""
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(esc(text[last : match.start()]))
        code, bold = match.groups()
        out.append(
            f"<code>{esc(code)}</code>" if code is not None else f"<strong>{esc(bold)}</strong>"
        )
        last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def number(value: Any, fmt: str = ".2e") -> str:
    """A measured number: '-' when absent or NaN (never measured), '∞' for infinity."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return format(value, fmt)


def exact(value: Any) -> str:
    """A value as stored (shortest repr that round-trips): both sides of a comparison."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return number(value)


def seconds(value: Any) -> str:
    return number(value, ".3g") + " s" if isinstance(value, (int, float)) else "-"


def table(header: Sequence[str], rows: Iterable[str], *, label: str, cls: str = "") -> str:
    """A table in its own horizontally scrolling container (a labelled region the keyboard can
    scroll); ``header`` cells and ``rows`` (``<tr>`` elements) are HTML, already escaped."""
    head = "".join(f'<th scope="col">{h}</th>' for h in header)
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<div class="scroll" role="region" tabindex="0" aria-label="{esc(label)}">'
        f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def row(cells: Sequence[str], *, head: str | None = None, cls: str = "", attrs: str = "") -> str:
    """A ``<tr>``: ``head`` (HTML) as its row header, then ``cells`` (HTML, already escaped)."""
    th = f'<th scope="row">{head}</th>' if head is not None else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<tr{klass}{attrs}>{th}{''.join(f'<td>{c}</td>' for c in cells)}</tr>"


def aside(text: str, *, box_id: str, label: str) -> str:
    """A boxed note (the sample notice, the noise floor's account)."""
    attrs = f'class="box notice" id="{esc(box_id)}" aria-label="{esc(label)}"'
    return f"<aside {attrs}><p>{esc(text)}</p></aside>"


def svg_image(svg: str, *, alt: str, caption: str, figure_id: str) -> str:
    """An SVG figure as a ``data:`` image (its namespaces and ids stay inside it)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<figure id="{esc(figure_id)}"><div class="scroll" role="region" tabindex="0" '
        f'aria-label="{esc(caption)}"><img src="data:image/svg+xml;base64,{data}" '
        f'alt="{esc(alt)}"></div><figcaption>{esc(caption)}</figcaption></figure>'
    )
