"""PaddleX-shaped user code runs unchanged on pyml: dict results and create_model()."""

import copy
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import pyml
from pyml.errors import ConfigError
from pyml.models import demo_model_dir

DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
PRINTED_KEYS = ["img_path", "class_ids", "scores", "label_names"]


@pytest.fixture(scope="module")
def demo_results():
    return list(pyml.create_pipeline("pyml_demo").predict(DEMO_IMAGES))


def test_paddlex_style_loop_indexes_results(demo_results):
    # The loop PaddleX's docs show, character for character apart from the import.
    seen = []
    for res in demo_results:
        res.print()
        seen.append((res["input_path"], res["label_names"], res["scores"], res["class_ids"]))
    assert [s[0] for s in seen] == DEMO_IMAGES
    for res, (_, names, scores, ids) in zip(demo_results, seen):
        assert names == res.label_names and scores == res.scores and ids == res.class_ids
        assert names, f"{res['img_path']} got no labels"


def test_result_is_a_dict_of_exactly_the_printed_keys(demo_results):
    res = demo_results[0]
    assert isinstance(res, dict)
    assert list(res) == PRINTED_KEYS
    assert dict(res) == res.json == json.loads(json.dumps(res))
    assert res.get("input_path") == res["img_path"] == res.input_path
    assert "input_path" in res and res.get("nothing", 7) == 7
    assert str(res) == str(dict(res))  # the printed form is the dict's own
    with pytest.raises(KeyError):
        res["page_index"]


def test_results_survive_copy_and_pickle(demo_results):
    res = demo_results[0]
    for twin in (copy.deepcopy(res), pickle.loads(pickle.dumps(res))):
        assert twin == res and type(twin) is type(res)
        assert twin.input_path == res.input_path
        np.testing.assert_array_equal(twin.all_scores, res.all_scores)


def test_error_results_are_dicts_with_an_error_entry(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    pipeline = pyml.create_pipeline("pyml_demo")
    good, failed = pipeline.predict([DEMO_IMAGES[0], str(bad)], on_error="return")
    assert "error" not in good and good.error is None
    assert isinstance(failed, dict) and failed["img_path"] == str(bad)
    assert failed["error"]["reason"] in ("truncated", "corrupt")
    assert str(bad) in failed["error"]["message"]
    assert failed["class_ids"] == [] and isinstance(failed.error, pyml.InputError)
    json.dumps(failed)


def test_img_and_save_all(demo_results, tmp_path):
    res = demo_results[0]
    image = res.img
    assert isinstance(image, Image.Image)
    with Image.open(res.input_path) as original:
        assert image.width == original.width and image.height > original.height  # the label band
    saved = res.save_all(tmp_path)
    assert sorted(p.name for p in saved) == ["digits_01_res.jpg", "digits_01_res.json"]
    assert json.loads((tmp_path / "digits_01_res.json").read_text()) == res


def test_create_model_predicts_like_the_pipeline(demo_results):
    model = pyml.create_model()  # no name, no dir: the embedded demo model
    results = list(model.predict(DEMO_IMAGES, batch_size=4))
    assert results == demo_results
    explicit = pyml.create_model(
        model_name="pyml-demo-digits_ML", model_dir=demo_model_dir(), batch_size=2, threshold=0.9
    )
    strict = list(explicit.predict(DEMO_IMAGES))
    for loose, tight in zip(demo_results, strict):
        assert tight["class_ids"] == [c for c, s in zip(loose["class_ids"], loose["scores"]) if s > 0.9]
    lower = next(iter(explicit.predict(DEMO_IMAGES[:1], threshold=0.01)))
    assert set(lower["class_ids"]) >= set(demo_results[0]["class_ids"])


def test_create_model_refuses_an_unknown_name_without_a_directory():
    """Official names are found by name (tests/test_models.py); any other name needs its folder."""
    with pytest.raises(ConfigError, match="'PP-LCNet_x9_ML' has no model_dir and is not a model pyml can find"):
        pyml.create_model("PP-LCNet_x9_ML")


def _noise_of_ours(stderr: str) -> list[str]:
    """The stderr lines pyml answers for: its own, and the paddle warnings its entry points
    silence. A third-party warning that a new dependency version adds is not one of them."""
    ours = ("pyml", "ccache", "I1", "W1", "E1", "Traceback")  # pyml, paddle's import, glog
    return [line for line in stderr.splitlines() if line.lstrip().startswith(ours) or "ccache" in line]


def test_pyml_imports_and_runs_quietly():
    """No paddle ccache warning, glog line or pyml message on stderr from pyml's entry points."""
    code = f"import pyml; m = pyml.create_model(); print(len(list(m.predict({DEMO_IMAGES[0]!r}))))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1" and _noise_of_ours(run.stderr) == [], run.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", DEMO_IMAGES[0]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0 and _noise_of_ours(cli.stderr) == [], cli.stderr


def test_create_pipeline_takes_a_config_dict_as_paddlex_does(demo_results):
    config = {
        "pipeline_name": "image_multilabel_classification",
        "SubModules": {
            "ImageMultiLabelClassification": {
                "module_name": "image_multilabel_classification",
                "model_name": "pyml-demo-digits_ML",
                "model_dir": None,
                "batch_size": 4,
                "threshold": 0.5,
            }
        },
    }
    pipeline = pyml.create_pipeline(config=config)
    assert list(pipeline.predict(DEMO_IMAGES)) == demo_results
    assert pyml.create_pipeline(config=config, batch_size=2).config.batch_size == 2
    with pytest.raises(ConfigError, match="<config dict>: unknown key"):
        pyml.create_pipeline(config={"SubModules": {"ImageMultiLabelClassification": {"batch_sise": 2}}})


def test_paddlex_fast_path_switches_choose_the_backend(tmp_path):
    """use_hpip=True (PaddleX 3.x), enable_hpi=True (the seed tutorial) and --use_hpip pick
    `auto`; hpi_config's backend names one; an explicit backend wins."""
    from pyml.config import PipelineConfig
    from pyml.pipeline_yaml import load_pipeline_config

    base = PipelineConfig()
    assert base.with_overrides(use_hpip=True).backend == "auto"
    assert base.with_overrides(enable_hpi=True).backend == "auto"
    assert base.with_overrides(use_hpip=True, backend="paddle").backend == "paddle"
    assert base.with_overrides(use_hpip=True, hpi_config={"backend": "onnxruntime"}).backend == "onnxruntime"
    assert base.with_overrides(use_hpip=False).backend == base.backend == "auto"  # False: no switch
    # A config that named paddle gets auto when the code asks PaddleX's fast path for speed.
    assert PipelineConfig(backend="paddle").with_overrides(use_hpip=True).backend == "auto"
    with pytest.raises(ConfigError, match="hpi_config backend 'tensorrt' is not one pyml has"):
        base.with_overrides(use_hpip=True, hpi_config={"backend": "tensorrt"})
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(
        "pipeline_name: image_multilabel_classification\nuse_hpip: true\nSubModules:\n"
        "  ImageMultiLabelClassification:\n    model_name: pyml-demo-digits_ML\n"
        "    model_dir: null\n",
        encoding="utf-8",
    )
    assert load_pipeline_config(yaml_file).backend == "auto"
    model = pyml.create_model(use_hpip=True, batch_size=2)
    assert model.config.backend == "auto" and model.backend_name in ("paddle", "openvino", "onnxruntime")
    assert all(r["label_names"] for r in model.predict(DEMO_IMAGES[:2]))
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "--pipeline", "pyml_demo", "--input", DEMO_IMAGES[0], "--use_hpip", "--verbose"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and "'label_names'" in run.stdout, run.stderr
    assert "backend auto: " in run.stderr, run.stderr  # auto chose (or remembered) the backend
