"""A headless Chromium for the HTML report's tests, driven through selenium.

Debian's packages: ``apt-get install -y chromium chromium-driver`` (/usr/bin/chromium,
/usr/bin/chromedriver); a Google Chrome with its chromedriver (GitHub's runners) does as well,
and CHROMIUM / CHROMEDRIVER name others. Missing, the browser tests skip saying so; under
CI=true (where .ci/run installs them) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

INSTALL = "apt-get install -y chromium chromium-driver"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without the background-networking flags Chromium reaches for update and sync servers at start,
# and a closed network answers with refused connections (logged as errors).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def _find(env: str, *names: str) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if Path(given).is_file() else None
    return next((found for n in names if (found := shutil.which(n))), None)


def missing() -> str | None:
    """Why the browser tests cannot run here (selenium, chromium or chromedriver), or None."""
    lacks = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        lacks.append("selenium (pip install 'mlp-parity[test]')")
    if _find("CHROMIUM", *BROWSERS) is None:
        lacks.append(f"chromium ({INSTALL})")
    if _find("CHROMEDRIVER", "chromedriver") is None:
        lacks.append(f"chromedriver ({INSTALL})")
    return "not installed: " + ", ".join(lacks) if lacks else None


def require() -> None:
    """Skip when the browser is missing; fail under CI=true, which must have installed it."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium (fresh profile) logging the console and the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find("CHROMIUM", *BROWSERS) or ""
    profile = tempfile.mkdtemp(prefix="mlp-parity-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(_find("CHROMEDRIVER", "chromedriver") or "")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_width(driver: Any, width: int, height: int = 900) -> None:
    """Make the page's viewport ``width`` CSS pixels wide (a phone: 360), whatever the chrome."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def network_requests(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (from the performance log)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
