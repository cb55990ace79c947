import pytest
from web.browser import Browser, require_browser


@pytest.fixture
def browser():
    """A fresh headless Chromium per test (skipped, with the reason, where it is missing)."""
    require_browser()
    b = Browser()
    yield b
    b.quit()
