"""Labels a person wants: include and exclude lists of labels and categories, through the
Python API, a pipeline YAML and the command line; COCO's categories for COCO's labels."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import pyml
from pyml.catalogue import COCO_CATEGORY_OF
from pyml.errors import ConfigError
from pyml.label_filter import LabelFilter
from pyml.models import demo_model_dir

IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def everything():
    """Every class's score per picture, with no filter (threshold 0)."""
    return [r.all_scores for r in pyml.create_pipeline("pyml_demo").predict(IMAGES, threshold=0.0)]


def test_an_excluded_label_is_never_returned_and_top_k_counts_only_kept_ones(everything):
    pipeline = pyml.create_pipeline("pyml_demo", exclude_labels="eight,one")
    for scores, result in zip(everything, pipeline.predict(IMAGES, threshold=0.0, top_k=3)):
        kept = [c for c in np.argsort(-scores, kind="stable") if pipeline.labels[c] not in ("eight", "one")]
        assert result.class_ids == [int(c) for c in kept[:3]]
        assert not {"eight", "one"} & set(result.label_names)


def test_include_keeps_only_the_named_labels(everything):
    pipeline = pyml.create_pipeline("pyml_demo", include_labels=["three", "seven"])
    for result in pipeline.predict(IMAGES, threshold=0.0):
        assert sorted(result.label_names) == ["seven", "three"]


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"exclude_labels: unknown name 'eigth'; valid: eight, five"):
        pyml.create_pipeline("pyml_demo", exclude_labels="eigth")
    with pytest.raises(ConfigError, match="include_categories: unknown name 'animal'; valid: none"):
        pyml.create_pipeline("pyml_demo", include_categories="animal")
    with pytest.raises(ConfigError, match="include_labels: expected comma-separated names"):
        pyml.create_pipeline("pyml_demo", include_labels=7)


def test_a_pipeline_yaml_takes_the_same_keys():
    config = {
        "pipeline_name": "image_multilabel_classification",
        "SubModules": {
            "ImageMultiLabelClassification": {"model_name": "pyml-demo-digits_ML", "exclude_labels": ["one"]}
        },
    }
    pipeline = pyml.create_pipeline(config=config)
    assert all("one" not in r.label_names for r in pipeline.predict(IMAGES, threshold=0.0))


def test_a_request_filter_adds_to_the_pipelines():
    pipeline = pyml.create_pipeline("pyml_demo", exclude_labels="one")
    threshold = pipeline.resolve_threshold(0.0, LabelFilter(exclude_labels=("two",)))
    result = pipeline.infer_prepared(pipeline.prepare(list(pyml.inputs.iter_sources(IMAGES[0]))), [threshold], [None])
    assert not {"one", "two"} & set(result[0].label_names) and len(result[0].label_names) == 8


def test_coco_labels_carry_cocos_categories_and_filter_by_them(lcnet_export):
    pipeline = pyml.create_pipeline(model_dir=str(lcnet_export), include_categories="animal,vehicle")
    assert pipeline.categories == [COCO_CATEGORY_OF[label] for label in pipeline.labels]
    (result,) = pipeline.predict(IMAGES[0], threshold=0.0)
    assert result.label_names and {COCO_CATEGORY_OF[n] for n in result.label_names} == {"animal", "vehicle"}
    assert result.categories == [COCO_CATEGORY_OF[n] for n in result.label_names]


def test_the_command_line_flags():
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", IMAGES[0], "--threshold", "0",
         "--include_labels", "two,five"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "'label_names': ['five', 'two']" in run.stdout or "'label_names': ['two', 'five']" in run.stdout


def test_a_label_map_gives_display_names_everywhere_results_go(tmp_path):
    names = tmp_path / "names.tsv"
    names.write_text("# Chinese names\n1\t一\neight\t八\n", encoding="utf-8")
    pipeline = pyml.create_pipeline("pyml_demo", label_names=str(names), exclude_labels="two")  # filters: model names
    (result,) = pipeline.predict(IMAGES[0])
    assert result.label_names == ["八", "一"] and result.class_ids == [8, 1]
    result.save_to_img(str(tmp_path / "drawn"))  # drawn with a font that has the characters
    assert list((tmp_path / "drawn").iterdir())
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", IMAGES[0],
         "--label_names", str(names)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0 and "'label_names': ['八', '一']" in run.stdout, run.stderr


@pytest.mark.parametrize(
    "text, says",
    [("eleven\tx\n", "'eleven' is not a class id (0..9) or a label name"), ("1 one\n", "expected '<id or label><TAB>")],
)
def test_a_bad_label_map_names_its_line(tmp_path, text, says):
    names = tmp_path / "names.tsv"
    names.write_text(text)
    with pytest.raises(ConfigError, match=f"{names}:1: .*{re.escape(says)}"):
        pyml.create_pipeline("pyml_demo", label_names=str(names))
