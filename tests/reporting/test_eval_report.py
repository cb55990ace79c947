"""`pyml eval --report`: every figure equals scikit-learn's on the same scores, and the page,
in a real headless Chromium, shows those numbers, filters and sorts, opens the worst
pictures, compares two models, and loads nothing from outside the file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from browser import outside, require_browser

import pyml
from pyml.models import demo_model_dir
from pyml.reporting.evaluation import ScoredModel, evaluation_page_data
from pyml.train import read_dataset
from pyml.train.calibrate import write_thresholds
from tools.demo_data import write_dataset

pytestmark = pytest.mark.slow
# thresholds that make the demo model miss and over-call: every kind of figure is non-trivial
ODD = np.array([0.02, 0.9, 0.5, 0.999, 0.3, 0.5, 0.7, 0.01, 0.5, 0.95])


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    dataset = read_dataset(write_dataset(root / "ds", {"train": 64, "val": 48}, seed=5))
    odd = root / "odd"
    shutil.copytree(demo_model_dir(), odd)
    write_thresholds(odd, ODD)
    return root, dataset, odd


def _scores(dataset) -> np.ndarray:
    pictures = [str(s.path) for s in dataset.splits["val"]]
    return np.stack([r.all_scores for r in pyml.create_pipeline()(pictures)])


def test_every_figure_equals_scikit_learns(task):
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

    _, dataset, _ = task
    targets, train = dataset.targets("val"), dataset.targets("train")
    scores = _scores(dataset)
    pictures = [str(s.path) for s in dataset.splits["val"]]
    data = evaluation_page_data(
        [ScoredModel("odd", "odd", scores, ODD)], dataset.labels, targets, train, pictures, "t", "the train split"
    )
    model = data["models"][0]
    predicted = scores > ODD
    for c, row in enumerate(model["classes"]):
        y, p = targets[:, c], predicted[:, c]
        assert row["support"] == int(y.sum()) and row["threshold"] == pytest.approx(ODD[c])
        assert row["ap"] == pytest.approx(average_precision_score(y, scores[:, c]), abs=1e-12)
        assert row["precision"] == pytest.approx(precision_score(y, p, zero_division=0), abs=1e-12)
        assert row["recall"] == pytest.approx(recall_score(y, p, zero_division=0), abs=1e-12)
        assert row["f1"] == pytest.approx(f1_score(y, p, zero_division=0), abs=1e-12)
        # the worst pictures: false positives by score high to low, false negatives low to high
        fp = [i for i in np.argsort(-scores[:, c], kind="stable") if p[i] and not y[i]][:4]
        fn = [i for i in np.argsort(scores[:, c], kind="stable") if y[i] and not p[i]][:4]
        assert [e["i"] for e in row["fp"]] == fp and [e["i"] for e in row["fn"]] == fn
    assert any(row["fp"] for row in model["classes"]) and any(row["fn"] for row in model["classes"])
    summary = model["summary"]
    assert summary["mAP"] == pytest.approx(
        np.mean([average_precision_score(targets[:, c], scores[:, c]) for c in range(10)])
    )
    for average in ("micro", "macro"):
        assert summary[average]["f1"] == pytest.approx(f1_score(targets, predicted, average=average, zero_division=0))
        assert summary[average]["precision"] == pytest.approx(
            precision_score(targets, predicted, average=average, zero_division=0)
        )
        assert summary[average]["recall"] == pytest.approx(
            recall_score(targets, predicted, average=average, zero_division=0)
        )
    constant = np.broadcast_to(train.mean(axis=0), targets.shape)
    baseline = model["baseline"]
    assert baseline["mAP"] == pytest.approx(
        np.mean([average_precision_score(targets[:, c], constant[:, c]) for c in range(10)])
    )
    assert baseline["micro"]["f1"] == pytest.approx(f1_score(targets, constant > ODD, average="micro", zero_division=0))
    # confusions: brute force over pictures
    counts = {}
    for y, p in zip(targets > 0.5, predicted):
        for t in np.nonzero(y & ~p)[0]:
            for i in np.nonzero(p & ~y)[0]:
                counts[(int(t), int(i))] = counts.get((int(t), int(i)), 0) + 1
    shown = {(r["truth"], r["instead"]): r["pictures"] for r in model["confusions"]}
    assert shown and all(counts[pair] == n for pair, n in shown.items())
    assert sorted(shown.values(), reverse=True) == sorted(counts.values(), reverse=True)[: len(shown)]
    # every picture named in the worst lists has its thumbnail
    wanted = {e["i"] for row in model["classes"] for e in row["fp"] + row["fn"]}
    assert {int(i) for i in data["thumbs"]} == wanted


def _page_values(browser, selector: str) -> dict:
    cells = browser.css(selector)
    return {cell.get_attribute("data-key"): (cell.get_attribute("data-value"), cell.text) for cell in cells}


def test_the_page_shows_the_numbers_filters_sorts_and_compares(task, browser):
    require_browser()
    root, dataset, odd = task
    report = root / "compare.html"
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "eval", str(demo_model_dir()), str(odd), str(dataset.root),
         "--report", str(report)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"report: {report}" in run.stderr
    data = json.loads(re.search(r"const DATA = (.*?);\n", report.read_text()).group(1).replace("<\\/", "</"))
    url = report.as_uri()
    browser.get(url)
    browser.wait(lambda d: browser.css("#class-table tr.class"))
    # the cards: each model's summary and baseline, as computed
    for m, model in enumerate(data["models"]):
        shown = _page_values(browser, f'.card[data-model="{m}"] td[data-key]')
        assert float(shown["mAP"][0]) == model["summary"]["mAP"] and shown["mAP"][1] == f"{model['summary']['mAP']:.4f}"
        assert float(shown["macro-f1"][0]) == model["summary"]["macro"]["f1"]
        assert float(shown["baseline-mAP"][0]) == model["baseline"]["mAP"]
    # the class table of the first model, row by row
    rows = browser.css("#class-table tr.class")
    assert [r.get_attribute("data-label") for r in rows] == dataset.labels
    for row in rows:
        c = int(row.get_attribute("data-id"))
        cells = {cell.get_attribute("data-key"): cell for cell in browser.css("td[data-key]", row)}
        expected = data["models"][0]["classes"][c]
        for key in ("ap", "precision", "recall", "f1"):
            assert float(cells[key].get_attribute("data-value")) == expected[key]
            assert cells[key].text == f"{expected[key]:.4f}"
        assert browser.css("svg.curve circle.threshold", row)  # the applied threshold, marked on the curve
    # the second model: its own figures, and a filter by name
    from selenium.webdriver.support.ui import Select

    Select(browser.css("#model")[0]).select_by_value("1")
    browser.css("#filter")[0].send_keys("thr")
    rows = browser.css("#class-table tr.class")
    assert [r.get_attribute("data-label") for r in rows] == ["three"]
    f1 = browser.css('td[data-key="f1"]', rows[0])[0]
    assert float(f1.get_attribute("data-value")) == data["models"][1]["classes"][3]["f1"]
    browser.css("button.more", rows[0])[0].click()
    details = browser.wait(lambda d: browser.css("#class-table tr.details"))[0]
    shown = [int(p.get_attribute("data-index")) for p in browser.css(".picture", details)]
    three = data["models"][1]["classes"][3]
    assert shown == [e["i"] for e in three["fp"] + three["fn"]] and shown
    assert browser.css(".picture img", details)  # thumbnails inside the file
    browser.css("#filter")[0].send_keys("\b\b\b")  # typed away: every class again
    assert len(browser.css("#class-table tr.class")) == 10
    # sorting by AP, high to low
    browser.css('#class-table th[data-key="ap"]')[0].click()
    values = [float(c.get_attribute("data-value")) for c in browser.css('#class-table tr.class td[data-key="ap"]')]
    assert values == sorted(values, reverse=True)
    # the comparison: every class, largest change first; "worse only" keeps the worse ones
    compare = browser.css("#compare-table tr.compare")
    assert len(compare) == 10
    changes = [
        max(
            abs(float(r.find_element("css selector", f'td[data-key="{k}"]').get_attribute("data-value") or 0))
            for k in ("dAp", "dF1")
        )
        for r in compare
    ]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0
    browser.css("#worse-only")[0].click()
    worse = browser.css("#compare-table tr.compare")
    a, b = data["models"]
    expected_worse = [
        c
        for c in range(10)
        if b["classes"][c]["f1"] < a["classes"][c]["f1"] or (b["classes"][c]["ap"] or 0) < (a["classes"][c]["ap"] or 0)
    ]
    assert sorted(int(r.get_attribute("data-id")) for r in worse) == expected_worse and worse
    browser.driver.execute_script("window.scrollTo(0, 0)")
    browser.screenshot("eval-report")
    assert outside(browser.requests(), url) == []
    assert browser.console_errors() == []
