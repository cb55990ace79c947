"""Reading PaddleX inference directories (files and inference.yml), without running them."""

import pytest
import yaml

from pyml.errors import ModelError
from pyml.model_dir import load_model_dir

PADDLEX_YML = """\
Global:
  model_name: PP-LCNet_x1_0_ML
Hpi:
  backend_configs: &cfg
    paddle_infer: {cpu_num_threads: 8}
  other: *cfg
PreProcess:
  transform_ops:
  - ResizeImage:
      backend: pil
      interpolation: bilinear
      size: 448
  - NormalizeImage:
      channel_num: 3
      mean: [0.485, 0.456, 0.406]
      order: ''
      scale: 0.00392156862745098
      std: [0.229, 0.224, 0.225]
  - ToCHWImage: null
PostProcess:
  MultiLabelThreshOutput:
    threshold: 0.5
    label_list: [person, bicycle, car]
"""


def make_dir(tmp_path, yml_text=PADDLEX_YML, files=("inference.json", "inference.pdiparams")):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in files:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "inference.yml").write_text(yml_text)
    return tmp_path


def edited(change) -> str:
    data = yaml.safe_load(PADDLEX_YML)
    change(data)
    return yaml.dump(data)


def test_paddlex_layout_with_hpi_anchors(tmp_path):
    spec = load_model_dir(make_dir(tmp_path))
    assert spec.model_name == "PP-LCNet_x1_0_ML"
    assert spec.model_file.name == "inference.json"
    assert spec.labels == ["person", "bicycle", "car"]
    assert spec.threshold == 0.5
    assert spec.preprocess == {
        "resize_mode": "stretch",
        "width": 448,
        "height": 448,
        "filter": "pil_bilinear",
        "scale": 0.00392156862745098,
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
    }
    assert spec.input_size == (448, 448)


def test_pdmodel_is_accepted_and_json_preferred(tmp_path):
    spec = load_model_dir(make_dir(tmp_path, files=("inference.pdmodel", "inference.pdiparams")))
    assert spec.model_file.name == "inference.pdmodel"
    (tmp_path / "inference.json").write_bytes(b"x")
    assert load_model_dir(tmp_path).model_file.name == "inference.json"


@pytest.mark.parametrize("missing", ["inference.pdiparams", "inference.yml", "inference.json"])
def test_missing_files_are_named(tmp_path, missing):
    make_dir(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(ModelError, match="inference"):
        load_model_dir(tmp_path)


def test_not_a_directory(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model_dir(tmp_path / "nope")


def test_resize_short_cv2_and_crop(tmp_path):
    def change(d):
        d["PreProcess"]["transform_ops"] = [
            {"ResizeImage": {"resize_short": 256, "backend": "cv2"}},
            {"CropImage": {"size": 224}},
            {"NormalizeImage": {"scale": "1.0/255.0", "mean": [0.5] * 3, "std": [0.5] * 3}},
            {"ToCHWImage": None},
        ]

    spec = load_model_dir(make_dir(tmp_path, edited(change)))
    assert spec.preprocess["resize_mode"] == "short" and spec.preprocess["short_side"] == 256
    assert spec.preprocess["filter"] == "cv2_linear"
    assert spec.preprocess["scale"] == pytest.approx(1 / 255)
    assert spec.input_size is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["PreProcess"]["transform_ops"].append({"RandomFlip": None}), "unknown operation 'RandomFlip'"),
        (lambda d: d["PreProcess"]["transform_ops"][0]["ResizeImage"].update(keep_ratio=True), "keep_ratio"),
        (
            lambda d: d["PreProcess"]["transform_ops"][0]["ResizeImage"].update(interpolation="bicubic"),
            "not supported by pyml's native resize",
        ),
        (lambda d: d["PreProcess"]["transform_ops"][0]["ResizeImage"].update(backend="skimage"), "backend"),
        (lambda d: d["PreProcess"]["transform_ops"].pop(0), "no ResizeImage"),
        (lambda d: d["PreProcess"]["transform_ops"][1]["NormalizeImage"].update(mean=[1, 2]), "mean"),
        (lambda d: d["PostProcess"]["MultiLabelThreshOutput"].update(topk=3), "topk"),
        (lambda d: d.update(PostProcess={"Topk": {"topk": 5}}), "MultiLabelThreshOutput"),
    ],
)
def test_unknown_or_unsupported_is_a_model_error_naming_file_and_key(tmp_path, change, message):
    make_dir(tmp_path, edited(change))
    with pytest.raises(ModelError, match=message) as info:
        load_model_dir(tmp_path)
    assert "inference.yml" in str(info.value)


def test_invalid_yaml(tmp_path):
    make_dir(tmp_path, "PreProcess: [unclosed")
    with pytest.raises(ModelError, match="not valid YAML"):
        load_model_dir(tmp_path)


def test_one_reader_for_python_and_cpp():
    """Loading a model holds no rules of its own in Python: it is the C++ reader C++ hosts
    call. (PyYAML in model_dir.py is the writer's, and the raw read a rewrite starts from.)"""
    import inspect

    import pyml.model_dir as module

    source = inspect.getsource(module.load_model_dir)
    assert "_native.read_model_dir" in source and "yaml" not in source


def test_per_class_threshold_list_and_unknown_section_warning(tmp_path, caplog):
    def change(d):
        d["PostProcess"]["MultiLabelThreshOutput"]["threshold"] = [0.35, 0.5, 0.7]
        d["Extra"] = {"x": 1}

    with caplog.at_level("WARNING", logger="pyml.model_dir"):
        spec = load_model_dir(make_dir(tmp_path, edited(change)))
    assert spec.threshold == [0.35, 0.5, 0.7]  # as written, not float32 approximations
    assert "ignoring unknown section 'Extra'" in caplog.text


@pytest.mark.parametrize(
    "size, message",
    [
        ('"448"', "is not a positive int or"),
        ("448.5", "is not a positive int or"),
        ("[448, 0]", "[w, h]"),
        ("true", "is not a positive int"),
        ("-3", "is not a positive int"),
    ],
)
def test_sizes_must_be_positive_ints(tmp_path, size, message):
    make_dir(tmp_path, PADDLEX_YML.replace("size: 448", f"size: {size}"))
    with pytest.raises(ModelError, match=r"inference\.yml: ResizeImage\.size: .*" + message.replace("[", r"\[")):
        load_model_dir(tmp_path)


def test_size_list_is_width_then_height(tmp_path):
    make_dir(tmp_path, PADDLEX_YML.replace("size: 448", "size: [320, 240]"))
    assert load_model_dir(tmp_path).input_size == (320, 240)


@pytest.mark.parametrize(
    "given, said",
    [
        ("run/best_model", r"the model is in .*run/best_model/inference: pass that folder"),  # PaddleX's output/ too
        ("run", r"training run's folder; its best model is in .*run/best_model/inference: pass that folder"),
    ],
)
def test_a_folder_above_the_model_says_where_it_is(tmp_path, given, said):
    """`pyml eval runs/x/best_model data/` and `pyml eval runs/x data/`: the export is
    one or two levels down; the error names it, through the API and the command."""
    import shutil
    import subprocess
    import sys

    from pyml.models import demo_model_dir

    shutil.copytree(demo_model_dir(), tmp_path / "run" / "best_model" / "inference")
    with pytest.raises(ModelError, match=said):
        load_model_dir(tmp_path / given)
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "eval", str(tmp_path / given), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 2 and "run/best_model/inference: pass that folder" in run.stderr, run.stderr


def test_categories_one_per_label_or_a_clear_error(tmp_path):
    def with_categories(categories):
        def change(d):
            d["PostProcess"]["MultiLabelThreshOutput"]["label_list"] = ["cat", "car", "sky"]
            d["Global"]["pyml_categories"] = categories

        return edited(change)

    spec = load_model_dir(make_dir(tmp_path / "a", with_categories(["animal", "vehicle", None])))
    assert spec.categories == ["animal", "vehicle", ""]
    with pytest.raises(ModelError, match=r"Global\.pyml_categories.*one category per label"):
        load_model_dir(make_dir(tmp_path / "b", with_categories(["animal"])))
    assert load_model_dir(make_dir(tmp_path / "c")).categories == []
