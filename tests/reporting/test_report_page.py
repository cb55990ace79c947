"""`pyml batch --report` / `pyml report`: a self-contained HTML report, opened from
file:// in a real headless Chromium; filtering by a label shows exactly the rows that
carry it, failures and names filter too, and the page fetches nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from browser import outside

from pyml.models import demo_model_dir

pytestmark = pytest.mark.slow
DEMO_IMAGES = sorted((demo_model_dir().parent / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    for picture in DEMO_IMAGES:
        shutil.copy(picture, folder / picture.name)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    out = folder.parent / "results.jsonl"
    report = folder.parent / "report.html"
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "batch", str(folder), "--pipeline", "pyml_demo", "--output", str(out),
         "--report", str(report), "--no_progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr  # one picture failed
    assert f"wrote {report}" in run.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return rows, report


def _names(browser) -> list[str]:
    return sorted(card.get_attribute("data-name") for card in browser.css("#gallery .row"))


def test_filters_show_exactly_the_rows_that_match(batch_run, browser):
    from selenium.webdriver.support.ui import Select

    rows, report = batch_run
    browser.get(report.as_uri())
    browser.wait(lambda d: browser.css("#gallery .row"))
    assert _names(browser) == sorted(r["img_path"] for r in rows)
    assert browser.css("#n-failed")[0].text == "1"
    label = Select(browser.css("#label")[0])
    counts = {}
    for row in rows:
        for name in row["label_names"]:
            counts[name] = counts.get(name, 0) + 1
    for name in counts:
        label.select_by_value(name)
        assert _names(browser) == sorted(r["img_path"] for r in rows if name in r["label_names"]), name
        shown = browser.css(f'#label-table tr[data-label="{name}"] td.count')[0].text
        assert int(shown) == counts[name]
    browser.screenshot("report-filtered")
    label.select_by_value("")
    browser.css("#failed")[0].click()
    assert _names(browser) == [r["img_path"] for r in rows if "error" in r]
    assert "not a decodable image" in browser.css("#gallery .row .error")[0].text
    browser.css("#failed")[0].click()
    browser.css("#search")[0].send_keys("digits_0")
    assert _names(browser) == sorted(r["img_path"] for r in rows if "digits_0" in r["img_path"])


def test_the_threshold_slider_hides_labels_below_it(batch_run, browser):
    rows, report = batch_run
    browser.get(report.as_uri())
    browser.wait(lambda d: browser.css("#gallery .row"))
    scores = sorted(s for r in rows for s in r["scores"])
    cut = scores[len(scores) // 2]
    browser.set_range(browser.css("#threshold")[0], cut)
    value = float(browser.css("#threshold")[0].get_attribute("value"))  # the slider's step rounds it
    tags = browser.css("#gallery .row .tag")
    assert len(tags) == sum(s >= value for s in scores) < len(scores)
    browser.screenshot("report")
    assert outside(browser.requests(), report.as_uri()) == []
    assert browser.console_errors() == []


def test_bad_results_files_are_clear_errors(tmp_path):
    from pyml.errors import ConfigError
    from pyml.reporting import write_report

    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(ConfigError, match="no results in it"):
        write_report(tmp_path / "empty.jsonl")
    (tmp_path / "other.jsonl").write_text('{"a": 1}\n')
    with pytest.raises(ConfigError, match="line 1 has no img_path"):
        write_report(tmp_path / "other.jsonl")
    with pytest.raises(ConfigError, match="cannot read the results"):
        write_report(tmp_path / "missing.jsonl")
    assert not list(tmp_path.glob("*.html"))  # nothing half-written


def test_a_picture_gone_since_the_run_is_one_line_in_pymls_words(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for picture in DEMO_IMAGES[:3]:
        shutil.copy(picture, folder / picture.name)
    (folder / "broken.jpg").write_bytes(b"not a picture")
    out = tmp_path / "results.jsonl"
    batch = [sys.executable, "-m", "pyml", "batch", str(folder), "--pipeline", "pyml_demo", "--output", str(out)]
    assert subprocess.run([*batch, "--no_progress"], capture_output=True, timeout=600).returncode == 1
    (folder / DEMO_IMAGES[0].name).unlink()
    (folder / DEMO_IMAGES[1].name).unlink()
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "report", str(out), "--output", str(tmp_path / "r.html"), "--no_progress"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "WARN" not in run.stderr.replace("WARNING", "") and "loadsave" not in run.stderr  # no OpenCV lines
    warnings = [line for line in run.stderr.splitlines() if "gone or unreadable" in line]
    assert len(warnings) == 1 and "3 picture(s)" in warnings[0], run.stderr  # two gone, one never decoded
