"""The try-it page at `/` of `pyml serve --http_port`, in a real headless Chromium: a demo
picture shows the labels and scores the API returns, the slider re-filters them as the
scores say, a corrupt file shows the server's error, and nothing is fetched from
outside the server."""

from __future__ import annotations

import pytest
from browser import outside, require_browser
from serving.test_http_serving import DEMO_IMAGES, HttpServer, b64

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    require_browser()
    running = HttpServer(pipelines=("digits=pyml_demo", "again=pyml_demo"))
    yield running
    running.stop()


def _choose(browser, *paths: str) -> None:
    browser.css("#files")[0].send_keys("\n".join(paths))


def _shown(card) -> list[tuple[str, float]]:
    from selenium.webdriver.common.by import By

    items = card.find_elements(By.CSS_SELECTOR, ".labels .label")
    return [(i.get_attribute("data-name"), float(i.get_attribute("data-score"))) for i in items]


def test_a_picture_shows_what_the_api_answers_and_the_slider_refilters(server, browser):
    origin = f"http://127.0.0.1:{server.http_port}"
    browser.get(origin + "/")
    picker = browser.wait(lambda d: browser.css("#model option") or False)
    assert [o.get_attribute("value") for o in picker] == ["digits", "again"]  # two models: a picker
    assert browser.css("#model-picker")[0].is_displayed()
    _choose(browser, DEMO_IMAGES[1])
    card = browser.wait(lambda d: (browser.css(".result.answered") or [None])[0])

    status, api = server.infer(image=b64(DEMO_IMAGES[1]), visualize=False)
    assert status == 200
    expected = [(c["name"], c["score"]) for c in api["result"]["categories"]]
    assert expected and _shown(card) == expected  # the same labels, order and scores as the API

    status, every = server.infer(image=b64(DEMO_IMAGES[1]), visualize=False, returnAllScores=True)
    scores = {c["name"]: c["score"] for c in every["result"]["allScores"]}
    for value in (0.05, 0.9, 0.99):
        browser.set_range(browser.css("#threshold")[0], value)
        wanted = sorted(((n, s) for n, s in scores.items() if s > value), key=lambda p: (-p[1], p[0]))
        assert sorted(_shown(card), key=lambda p: (-p[1], p[0])) == wanted, value
    assert len(_shown(card)) < len(scores)  # the slider did hide labels
    browser.css("#model-thresholds")[0].click()
    assert _shown(card) == expected

    browser.css(".draw", card)[0].click()
    browser.wait(lambda d: browser.css(".drawn", card)[0].is_displayed())
    browser.screenshot("try-page")
    assert outside(browser.requests(), origin + "/") == []
    assert browser.console_errors() == []


def test_a_corrupt_file_shows_the_servers_error(server, browser, tmp_path):
    origin = f"http://127.0.0.1:{server.http_port}"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    browser.get(origin + "/")
    browser.wait(lambda d: browser.css("#model option") or False)
    _choose(browser, str(broken), DEMO_IMAGES[0])
    failed = browser.wait(lambda d: (browser.css(".result.failed") or [None])[0])
    assert failed.get_attribute("data-name") == "broken.jpg"
    status, api = server.infer(image=b64(str(broken)))
    assert status == 422
    message = browser.css(".error", failed)[0].text
    assert message.startswith("image: ") and message in api["errorMsg"]  # the server's own reason
    browser.wait(lambda d: browser.css(".result.answered"))  # the good picture beside it is answered
    browser.screenshot("try-page-error")
    assert outside(browser.requests(), origin + "/") == []


def test_api_docs_load_offline(server, browser):
    origin = f"http://127.0.0.1:{server.http_port}"
    browser.get(origin + "/docs")
    browser.wait(lambda d: browser.css(".opblock-summary-path") or False)  # Swagger UI drew the operations
    paths = {e.text.replace("\u200b", "") for e in browser.css(".opblock-summary-path")}
    assert "/multilabel-image-classification" in paths
    browser.screenshot("api-docs")
    assert outside(browser.requests(), origin + "/") == []


def test_a_server_with_a_token_asks_for_it_and_keeps_it_in_memory_only(browser, tmp_path):
    require_browser()
    token_file = tmp_path / "token.txt"
    token_file.write_text("page-s3cret\n")
    guarded = HttpServer("--token_file", str(token_file))
    try:
        origin = f"http://127.0.0.1:{guarded.http_port}"
        browser.get(origin + "/")
        form = browser.wait(
            lambda d: (browser.css("#token-form") or [None])[0].is_displayed() and browser.css("#token-form")[0]
        )
        assert not browser.css("#model option")  # nothing loaded without the token
        field = browser.css("#token", form)[0]
        assert field.get_attribute("type") == "password"
        field.send_keys("not-it")
        browser.css("button[type=submit]", form)[0].click()
        error = browser.wait(lambda d: browser.css("#token-error")[0].is_displayed() and browser.css("#token-error")[0])
        assert error.text == "the server refused this token"
        field.clear()
        field.send_keys("page-s3cret")
        browser.css("button[type=submit]", form)[0].click()
        browser.wait(lambda d: browser.css("#model option") or False)
        assert not browser.css("#token-form")[0].is_displayed()
        _choose(browser, DEMO_IMAGES[1])
        card = browser.wait(lambda d: (browser.css(".result.answered") or [None])[0])
        assert _shown(card)
        browser.screenshot("try-page-token")
        stored = browser.driver.execute_script(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie"
        )
        assert "page-s3cret" not in stored
        browser.get(origin + "/")  # a reload forgets it
        browser.wait(lambda d: browser.css("#token-form")[0].is_displayed())
        assert outside(browser.requests(), origin + "/") == []
    finally:
        guarded.stop()
