"""report.html: built from the report dict, escaped, self-contained; and read in a real browser.

The browser tests open the page that ``write_outputs`` writes for two judge runs (every stage
passes; a planted catalogue bug fails at "gradients") in headless Chromium, from a file:// URL.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import frameworks
from frameworks import REFERENCE
from parity.judge import judge
from parity.report.files import write_outputs
from parity.report.html import html
from parity.report.html_parts import inline_markdown
from parity.selftest import BY_NAME, N_TEST, N_TRAIN, run_mutant
from parity.selftest.runner import one_thread
from tests.support import browser
from tests.support.inputs import pixels

MUTANT = "float32_accumulation"  # the subject sums dW in float32: fails first at "gradients"
HOSTILE = '<script>alert("x")</script>'

# --------------------------------------------------------------------------- without a browser


def _comparison(tensor: str, passed: bool, **extra: Any) -> dict[str, Any]:
    tol = {"atol": 0.0, "rtol": 1e-10, "reason": "mean of batch losses"}
    return dict(
        stage="train_loss", tensor=tensor, pair=["torch", "numpy"], dtype="float64", shape=[2],
        max_abs=2e-9 if not passed else 1e-16, max_rel=1e-9, scale=2.3, index=[1],
        actual=2.3000000001, expected=2.3, tolerance=tol, passed=passed, problem=None,
        detail=None, **extra,
    )  # fmt: skip


def _hand_made() -> dict[str, Any]:
    """A schema-2 report dict: INDETERMINATE, with a noise floor and a skipped stage."""
    floor_entry = dict(stage="train_loss", pair=["torch", "numpy"], tensor="loss per epoch",
                       observed=2e-9, floor=5e-9, values=[1e-9, 4e-9], within=True)  # fmt: skip
    return {
        "schema": "mlp-parity/report/2",
        "verdict": {
            "passed": False,
            "status": "INDETERMINATE",
            "exit_status": 3,
            "held_through_step": 120,
            "first_failure": None,
            "line": "INDETERMINATE at stage train_loss (torch vs numpy): within the noise floor",
        },
        "spec": {"sizes": [784, 16, 10], "activation": "sigmoid", "dtype": "float64"},
        "data": {
            "source": {"kind": "sample", "is_sample": True, "notice": "only 5,000 digits"},
            "n_train": 300,
            "n_test": 100,
        },
        "plan": {},
        "frameworks": {
            "numpy": {"status": "ok", "versions": {"numpy": "2.4"}, "seconds": 1.0},
            "torch": {"status": "ok", "versions": {}, "skipped": {"train_params": "no CUDA"}},
            "sklearn": {"status": "unavailable", "reason": HOSTILE},
        },
        "stages": [
            {
                "stage": "forward",
                "pair": ["torch", "numpy"],
                "passed": True,
                "outcome": "pass",
                "comparisons": [_comparison("probs", True)],
            },
            {
                "stage": "train_loss",
                "pair": ["torch", "numpy"],
                "passed": False,
                "outcome": "indeterminate",
                "comparisons": [_comparison("loss per epoch", False)],
            },
        ],
        "floor": {
            "nudges": 4,
            "margin": 2.0,
            "seconds": 3.5,
            "reached": {"value": 3.1e-12, "step": 180},
            "stages": [floor_entry],
            "divergence": {"steps": [1, 2], "per_nudge": [[0.0, 1e-16]]},
        },
    }


def test_indeterminate_floor_and_skipped_stages_render_from_a_hand_made_dict():
    page = html(_hand_made(), {})
    assert 'class="verdict indeterminate"' in page
    assert "rounding alone grows to 3.1e-12 by step 180 (chaotic regime)" in page.lower()
    assert "parity held within the table through step 120" in page.lower()
    assert "exit status 3" in page
    assert "skipped train_params: no CUDA" in page
    assert "only 5,000 digits" in page and 'id="data-notice"' in page
    assert "<h2>Noise floor</h2>" in page
    rows = re.findall(r'<tr class="stage-row outcome-(\w+)"', page)
    assert rows == ["indeterminate", "pass"], "the indeterminate row comes before the pass"
    assert re.findall(r'<tr class="detail" id="detail-(\d)"( hidden)?>', page) == [
        ("1", ""),
        ("0", " hidden"),
    ], "the top row, not a pass, opens with the page"


def test_a_report_1_dict_without_the_new_keys_renders():
    report = _hand_made()
    report["schema"] = "mlp-parity/report/1"
    for key in ("status", "exit_status", "held_through_step"):
        del report["verdict"][key]
    del report["floor"]
    for stage in report["stages"]:
        del stage["outcome"]
    page = html(report, {})
    assert 'class="verdict no-verdict"' in page, "passed False and no failure: no verdict"
    assert re.findall(r'<tr class="stage-row outcome-(\w+)"', page) == ["fail", "pass"]
    assert "Noise floor" not in page


def test_strings_from_the_report_are_escaped():
    report = _hand_made()
    report["stages"][0]["comparisons"][0]["tensor"] = "<img src=x onerror=alert(1)>"
    report["verdict"]["line"] = "FAIL </p><b>bold</b>"
    page = html(report, {})
    assert HOSTILE not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<script>") == 1, "the page's own script only"


def test_the_equivalence_map_markdown_becomes_code_and_strong_and_nothing_else():
    assert inline_markdown("`W <- W` is **<b>mean</b>** & ok") == (
        "<code>W &lt;- W</code> is <strong>&lt;b&gt;mean&lt;/b&gt;</strong> &amp; ok"
    )


def test_the_page_is_self_contained():
    page = html(_hand_made(), {"curves": '<svg xmlns="http://www.w3.org/2000/svg"></svg>'})
    assert not re.search(r"https?://", page), "a URL outside escaped text"
    assert not re.search(r"<(link|script|img)[^>]+(src|href)=\"(?!data:)", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert '<meta name="viewport"' in page


# --------------------------------------------------------------------------- reports to read


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.html (beside its report.json) for a passing run and a planted bug's run."""
    rng = np.random.default_rng(20261130)
    X, y = pixels(N_TRAIN + N_TEST, rng), rng.integers(0, 10, N_TRAIN + N_TEST)
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    witnesses = [n for n in ("torch", "sklearn") if frameworks.availability()[n] is None]
    if not witnesses:
        pytest.skip("neither torch nor scikit-learn is installed: nothing to compare")
    mutant = BY_NAME[MUTANT]
    sample = {"kind": "synthetic pixels", "is_sample": True, "notice": "synthetic test digits"}
    with one_thread():
        passing = judge(mutant.spec, X_train, y_train, X_test, y_test,
                        names=(REFERENCE, *witnesses), data={"source": sample})  # fmt: skip
    failing = run_mutant(mutant, X_train, y_train, X_test, y_test).report
    assert passing.passed, passing.verdict()
    assert failing is not None and failing.first_failure is not None, "the bug went unseen"
    out = {}
    for name, report in (("pass", passing), ("fail", failing)):
        folder = tmp_path_factory.mktemp(f"report-{name}")
        written = write_outputs(report, folder)
        assert folder / "report.html" in written
        out[name] = folder / "report.html"
    return out


def test_write_outputs_writes_report_html_from_the_json_s_dict(pages):
    report = json.loads((pages["pass"].parent / "report.json").read_text())
    page = pages["pass"].read_text()
    assert f'<p class="line" id="verdict-line">{report["verdict"]["line"]}</p>' in page
    assert page.count('class="stage-row') == len(report["stages"])


# --------------------------------------------------------------------------- in a browser


# Runs before any of the page's own code: records every load the page's CSP refused.
RECORD_VIOLATIONS = (
    "window.violations = []; document.addEventListener('securitypolicyviolation',"
    " e => window.violations.push(e.blockedURI + ' (' + e.violatedDirective + ')'));"
)
# Each stage row's data-index and its first three cells' text (stage, result, pair).
STAGE_ROWS = (
    "return Array.from(document.querySelectorAll('tr.stage-row'), tr => [tr.dataset.index,"
    " ...Array.from(tr.querySelectorAll('th, td'), c => c.textContent).slice(0, 3)])"
)


@pytest.fixture(scope="module")
def driver():
    browser.require()
    with browser.chromium() as chromium:
        chromium.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS}
        )
        yield chromium


def _open(driver, page: Path, width: int = 1280) -> dict[str, Any]:
    """Load ``page`` at ``width`` CSS pixels, logs drained before; its report.json's dict."""
    driver.get("about:blank")
    browser.network_requests(driver)
    driver.get_log("browser")
    browser.set_width(driver, width)
    driver.get(page.as_uri())
    return json.loads((page.parent / "report.json").read_text())


@pytest.mark.parametrize("name", ["pass", "fail"])
def test_the_page_loads_with_no_console_error_and_no_network(driver, pages, name):
    _open(driver, pages[name])
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    requested = browser.network_requests(driver)
    assert requested and all(u.startswith(("file:", "data:")) for u in requested), requested
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert all(u.startswith(("file:", "data:")) for u in resources), resources
    assert driver.execute_script("return window.violations") == []


@pytest.mark.parametrize("name", ["pass", "fail"])
def test_verdict_and_every_stage_row_are_what_report_json_says(driver, pages, name):
    report = _open(driver, pages[name])
    line = driver.find_element("id", "verdict-line").get_attribute("textContent")
    assert line == report["verdict"]["line"]
    rows = driver.execute_script(STAGE_ROWS)
    assert sorted(int(index) for index, *_ in rows) == list(range(len(report["stages"])))
    for index, *cells in rows:
        stage = report["stages"][int(index)]
        expected = "pass" if stage["passed"] else "FAIL"
        assert cells == [stage["stage"], expected, " vs ".join(stage["pair"])], cells


def test_expanding_a_row_shows_every_tensor_with_both_values(driver, pages):
    report = _open(driver, pages["pass"])
    tr = driver.find_element("css selector", "tr.stage-row[data-outcome='pass']")
    stage = report["stages"][int(tr.get_attribute("data-index"))]
    button = tr.find_element("css selector", "button.toggle")
    detail = driver.find_element("id", button.get_attribute("aria-controls"))
    assert not detail.is_displayed() and button.get_attribute("aria-expanded") == "false"
    tr.find_elements("css selector", "td")[1].click()  # anywhere on the row
    assert detail.is_displayed() and button.get_attribute("aria-expanded") == "true"
    shown = detail.text
    for c in stage["comparisons"]:
        assert c["tensor"] in shown and repr(c["actual"]) in shown and repr(c["expected"]) in shown
    button.send_keys(" ")  # the keyboard closes it again
    assert not detail.is_displayed()


def test_a_fail_report_shows_the_failing_stage_first_and_highlighted(driver, pages):
    report = _open(driver, pages["fail"])
    first = report["verdict"]["first_failure"]
    assert first["stage"] == BY_NAME[MUTANT].stage
    rows = driver.find_elements("css selector", "tr.stage-row")
    top = rows[0]
    cells = [c.get_attribute("textContent") for c in top.find_elements("css selector", "th, td")]
    assert cells[:3] == [first["stage"], "FAIL", " vs ".join(first["pair"])]
    assert "outcome-fail" in top.get_attribute("class").split()
    passing = next(r for r in rows if r.get_attribute("data-outcome") == "pass")
    colour = "return getComputedStyle(arguments[0]).backgroundColor"
    assert driver.execute_script(colour, top.find_element("css selector", "th")) != (
        driver.execute_script(colour, passing.find_element("css selector", "th"))
    )
    failing_rows = [r.get_attribute("data-outcome") for r in rows]
    assert failing_rows == sorted(failing_rows, key=lambda o: o == "pass"), "failures first"
    message = driver.find_element("css selector", "tr.detail:not([hidden]) p.message")
    assert message.is_displayed() and first["message"] in message.text.replace("\n", " ")


@pytest.mark.parametrize("name", ["pass", "fail"])
def test_at_phone_width_only_the_tables_scroll(driver, pages, name, tmp_path):
    _open(driver, pages[name], width=360)
    inner, scroll = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    assert inner == 360 and scroll <= inner, "the page itself overflows sideways"
    stages = driver.find_element("css selector", ".scroll[aria-label='stages']")
    assert driver.execute_script(
        "const s = arguments[0]; s.scrollLeft = 80; return [s.scrollWidth > s.clientWidth,"
        " s.scrollLeft > 0]",
        stages,
    ) == [True, True], "the stage table should scroll inside its own box"
    driver.execute_script("arguments[0].scrollLeft = 0", stages)
    result = driver.find_element("css selector", "tr.stage-row td")  # the result column
    assert driver.execute_script("return arguments[0].getBoundingClientRect().right", result) <= 360
    for width in (360, 1280):
        _screenshot(driver, width, tmp_path / f"report-{name}-{width}.png")


def _screenshot(driver, width: int, path: Path) -> None:
    """The whole page at ``width`` (tall viewport, capped), for a person to look at."""
    browser.set_width(driver, width)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    browser.set_width(driver, width, min(height, 8000))
    assert driver.save_screenshot(str(path)), path


def test_images_are_described_and_tables_have_header_cells(driver, pages):
    pytest.importorskip("matplotlib", reason="no plots without matplotlib")
    _open(driver, pages["pass"])
    images = driver.find_elements("css selector", "img, svg")
    assert images, "the plots are missing"
    for image in images:
        described = image.get_attribute("alt") or image.get_attribute("aria-label")
        assert described and len(described) > 20, image.get_attribute("outerHTML")[:200]
    for table in driver.find_elements("css selector", "table"):
        assert table.find_elements("css selector", "thead th[scope='col']")
    rows = driver.find_elements("css selector", "table.stages > tbody > tr.stage-row")
    assert all(r.find_elements("css selector", "th[scope='row']") for r in rows)


def test_without_script_every_tensor_is_shown(driver, pages):
    """Script off (a strict viewer): the detail rows are all shown instead, nothing is lost."""
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        _open(driver, pages["pass"])
        details = driver.find_elements("css selector", "tr.detail")
        assert details and all(d.is_displayed() for d in details)
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
