"""A real headless browser for the dashboard's tests: Debian's chromium, driven through chromium-driver.

``headless_browser()`` yields a Selenium driver, or skips (fails under CI=true)
when chromium or its driver is missing. Nothing is downloaded: the driver's
path is given, so Selenium Manager never runs.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from needs import require

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@contextlib.contextmanager
def headless_browser(width: int = 1280, height: int = 900) -> Iterator[Any]:
    require(Path(CHROMIUM).exists() and Path(DRIVER).exists(),
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver, "
            "as .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=DriverService(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (returned), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # an element replaced while read: look again
            last_error = error
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout_s:.0f} s for {what}" + (f" (last error: {last_error})" if last_error else ""))


def save_screenshot(driver: Any, name: str) -> Path:
    """A screenshot kept as a test artefact (``artifacts/`` at the repository's root)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
