"""A real headless Chromium (Debian's `chromium` + `chromium-driver`) through Selenium,
with every network request it makes recorded, and screenshots kept as test artifacts
(in $PYML_TEST_ARTIFACTS, default build/test-artifacts)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("PYML_TEST_ARTIFACTS", Path(__file__).parents[1] / "build" / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def require_browser() -> None:
    pytest.importorskip("selenium", reason="pip install selenium (in pyml[test])")
    if not (CHROMIUM and DRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (apt install chromium chromium-driver)")


class Browser:
    def __init__(self, width: int = 1280, height: int = 900) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--allow-file-access-from-files"):  # fmt: skip
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        self.driver.set_page_load_timeout(60)
        self.requested: list[str] = []

    def get(self, url: str) -> None:
        self.driver.get(url)

    def requests(self) -> list[str]:
        """Every URL the page asked for so far (documents, scripts, images, fetches)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
        return self.requested

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def wait(self, condition, timeout: float = 60):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(condition)

    def css(self, selector: str, root=None):
        from selenium.webdriver.common.by import By

        return (root or self.driver).find_elements(By.CSS_SELECTOR, selector)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def set_range(self, element, value: float) -> None:
        """Moves a range input as a user's drag does: sets it and fires `input`."""
        self.driver.execute_script(
            "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));", element, value
        )

    def quit(self) -> None:
        self.driver.quit()


def outside(urls: list[str], *allowed_prefixes: str) -> list[str]:
    """The URLs that are neither under an allowed prefix nor inline (data:, blob:)."""
    return [u for u in urls if not u.startswith(("data:", "blob:", *allowed_prefixes))]
