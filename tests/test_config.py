"""Pipeline YAML in both layouts, overrides, and the threshold forms."""

import numpy as np
import pytest

from pyml.config import PipelineConfig
from pyml.errors import ConfigError
from pyml.pipeline_yaml import load_pipeline_config, write_pipeline_config
from pyml.thresholds import resolve_threshold


def write(tmp_path, text, name="pipeline.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_both_pipeline_names_give_the_seed_tutorials_config():
    a = load_pipeline_config("image_multilabel_classification")
    b = load_pipeline_config("multi_label_image_classification")
    assert a.model_dir is None and a.model_name == b.model_name == "PP-LCNet_x1_0_ML"
    # threshold null: the model's own inference.yml applies (0.5 for the official models)
    assert (a.batch_size, a.threshold) == (b.batch_size, b.threshold) == (1, None)


def test_the_demo_has_a_pipeline_name_of_its_own():
    demo = load_pipeline_config("pyml_demo")
    assert demo.model_dir is None and demo.model_name == "pyml-demo-digits_ML"
    assert demo.pipeline_name == "image_multilabel_classification"  # the same pipeline kind


def test_paddlex3_layout(tmp_path):
    (tmp_path / "models" / "lcnet").mkdir(parents=True)
    path = write(
        tmp_path,
        """
pipeline_name: image_multilabel_classification
device: cpu
SubModules:
  ImageMultiLabelClassification:
    module_name: image_multilabel_classification
    model_name: PP-LCNet_x1_0_ML
    model_dir: models/lcnet
    batch_size: 8
    threshold: {default: 0.5, 3: 0.2}
""",
    )
    config = load_pipeline_config(path)
    assert config.model_name == "PP-LCNet_x1_0_ML"
    assert config.model_dir == str(tmp_path / "models" / "lcnet")  # relative to the YAML
    assert config.batch_size == 8 and config.device == "cpu"
    assert config.threshold == {"default": 0.5, 3: 0.2}


def test_seed_layout(tmp_path):
    path = write(
        tmp_path,
        """
Global:
  pipeline_name: multi_label_image_classification
  input: whatever.jpg
Pipeline:
  model_dir: /models/lcnet
  batch_size: 2
  device: "gpu:0"
""",
    )
    config = load_pipeline_config(path)
    assert (config.model_dir, config.batch_size, config.device) == ("/models/lcnet", 2, "gpu:0")


@pytest.mark.parametrize(
    "text, key",
    [
        ("SubModules:\n  ImageMultiLabelClassification:\n    batch_sise: 4\n", "batch_sise"),
        ("SubModules:\n  ImageMultiLabelClassification:\n    batch_size: 0\n", "batch_size"),
        ("SubModules:\n  ImageMultiLabelClassification:\n    decode_mode: turbo\n", "decode_mode"),
        ("SubModules:\n  ImageMultiLabelClassification:\n    device: tpu\n", "tpu"),
        (
            "SubModules:\n  ImageMultiLabelClassification:\n    model_name: ResNet_ML\n",
            "model 'ResNet_ML' has no model_dir and is not a model pyml can find by name",
        ),
        ("pipeline_name: object_detection\nSubModules:\n  ImageMultiLabelClassification: {}\n", "pipeline_name"),
        ("Pipeline:\n  modle: x\n", "modle"),
        ("just: text\n", "not a pipeline config"),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key):
        load_pipeline_config(write(tmp_path, text))


def test_unknown_pipeline_name():
    with pytest.raises(ConfigError, match="unknown pipeline"):
        load_pipeline_config("no_such_pipeline")


def test_overrides_are_validated():
    config = PipelineConfig()
    assert config.with_overrides(batch_size=16, top_k=None).batch_size == 16
    with pytest.raises(ConfigError, match="top_k"):
        config.with_overrides(top_k=0)
    with pytest.raises(ConfigError, match="unknown pipeline option"):
        config.with_overrides(batchsize=2)
    assert config.with_overrides(auto_measure="while_serving").auto_measure == "while_serving"
    with pytest.raises(ConfigError, match="auto_measure must be one of before, while_serving, not 'later'"):
        config.with_overrides(auto_measure="later")


def test_write_pipeline_config(tmp_path):
    path = write_pipeline_config("multi_label_image_classification", tmp_path, overwrite=False)
    assert path.name == "image_multilabel_classification.yaml"
    assert load_pipeline_config(path).model_name == "PP-LCNet_x1_0_ML"
    with pytest.raises(FileExistsError):
        write_pipeline_config("image_multilabel_classification", tmp_path, overwrite=False)
    demo = write_pipeline_config("pyml_demo", tmp_path, overwrite=False)
    assert demo.name == "pyml_demo.yaml" and load_pipeline_config(demo).model_name == "pyml-demo-digits_ML"


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.3, 0.3),
        (1, 1.0),
        (0, 0.0),
        ([0.1, 0.2, 0.3], np.array([0.1, 0.2, 0.3], np.float32)),
        ({"default": 0.5, 1: 0.1, "2": 0.9}, np.array([0.5, 0.1, 0.9], np.float32)),
    ],
)
def test_threshold_forms(value, expected):
    np.testing.assert_array_equal(resolve_threshold(value, 3), expected)


@pytest.mark.parametrize(
    "value, message",
    [
        (-0.1, "outside"),
        (1.5, "outside"),
        (True, "not a number"),
        ("0.5", "not a number"),
        ([0.5, 0.5], "has 2 values"),
        ({1: 0.2}, "default"),
        ({"default": 0.5, 7: 0.1}, "key 7"),
        ({"default": 0.5, "x": 0.1}, "key 'x'"),
        ([0.5, "a", 0.5], r"threshold\[1\]"),
    ],
)
def test_threshold_errors(value, message):
    with pytest.raises(ConfigError, match=message):
        resolve_threshold(value, 3)


def test_a_relative_model_dir_is_read_as_paddlex_does_then_beside_the_yaml(tmp_path, monkeypatch):
    text = "SubModules:\n  ImageMultiLabelClassification:\n    model_name: mine\n    model_dir: models/mine\n"
    configs, work = tmp_path / "configs", tmp_path / "work"
    (configs / "models" / "mine").mkdir(parents=True)
    (work / "models" / "mine").mkdir(parents=True)
    path = write(configs, text)
    monkeypatch.chdir(work)  # PaddleX: relative to the working directory; that wins
    assert load_pipeline_config(path).model_dir == str(work / "models" / "mine")
    monkeypatch.chdir(tmp_path)  # not there: beside the YAML
    assert load_pipeline_config(path).model_dir == str(configs / "models" / "mine")
    (configs / "models" / "mine").rmdir()
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    assert str(tmp_path / "models" / "mine") in str(caught.value)
    assert str(configs / "models" / "mine") in str(caught.value) and "as PaddleX does" in str(caught.value)


def test_a_pipeline_option_is_defined_once_and_reaches_yaml_api_and_flags():
    import dataclasses

    from pyml.cli import command_parser, main_parser
    from pyml.config import PipelineConfig, pipeline_options
    from pyml.pipeline_yaml import _SECTION_KEYS, _SEED_KEYS

    fields = {f.name for f in dataclasses.fields(PipelineConfig)} - {"pipeline_name", "source"}
    assert {"module_name", *fields} == _SECTION_KEYS
    assert {"model", *(fields - {"model_name"})} == _SEED_KEYS
    flags = pipeline_options()
    assert {"device", "batch_size", "threshold", "top_k", "decode_mode", "backend", "precision"} <= set(flags)
    for parser in (main_parser(), command_parser("batch")):
        options = {a.dest: a for a in parser._actions}
        for name, field in flags.items():
            assert name in options and options[name].choices == field.metadata.get("choices"), name
            assert options[name].default is None  # the config decides, not the flag
    args = main_parser().parse_args(["--decode_mode", "fast", "--precision", "bf16", "--threshold", "0.3"])
    assert (args.decode_mode, args.precision, args.threshold) == ("fast", "bf16", 0.3)


def test_a_missing_model_dir_names_each_place_once(tmp_path, monkeypatch):
    text = "SubModules:\n  ImageMultiLabelClassification:\n    model_dir: models/NOPE\n"
    path = write(tmp_path, text)
    monkeypatch.chdir(path.parent)  # the YAML sits in the working directory: one place, said once
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path.name)
    message = str(caught.value)
    assert message.count(str(path.parent / "models" / "NOPE")) == 1 and "this file's folder" in message
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # two different places: both named
    with pytest.raises(ConfigError, match=r"elsewhere/models/NOPE \(from the working directory.*beside this file"):
        load_pipeline_config(path)
