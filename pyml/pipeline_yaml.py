"""The pipeline YAML forms PaddleX users have, read into a PipelineConfig (config.py):

- PaddleX 3.x: `pipeline_name` + `SubModules.ImageMultiLabelClassification.{model_name,
  model_dir, batch_size, threshold}` (+ `device` at the top or in the section);
- the older seed form: `Global.pipeline_name` + `Pipeline.{model, batch_size, device}`.

pyml's own keys (`top_k`, `decode_mode`, `backend`, `precision`, `cpu_threads`, `enable_mkldnn`,
`preprocess_threads`) sit beside them. The shipped pipelines are YAML files of the same
form in pyml/configs (`pyml --get_pipeline_config NAME` copies one out).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .atomic import atomic_write_text
from .config import BUILTIN_PIPELINES, PIPELINE_NAME, SECTION, PipelineConfig, hpi_backend, validate
from .errors import ConfigError
from .models import default_model_name

# The keys a YAML may set: every field but the pipeline's name and the bookkeeping.
_MODEL_KEYS = {f.name for f in dataclasses.fields(PipelineConfig)} - {"pipeline_name", "source"}
_SECTION_KEYS = {"module_name", *_MODEL_KEYS}
_SEED_KEYS = {"model", *_MODEL_KEYS - {"model_name"}}  # the seed form calls the model `model`


def _resolve_relative_model_dir(value: str, source: str) -> Path:
    """PaddleX reads a relative model_dir from the working directory; pyml also looks
    beside the YAML file, so a config and its model can move together. The working
    directory wins when both exist; when neither does, the error names both."""
    model_dir = Path(value).expanduser()
    if model_dir.is_absolute() or not Path(source).is_file():
        return model_dir
    candidates = [Path.cwd() / model_dir, Path(source).resolve().parent / model_dir]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        if candidates[0].resolve() == candidates[1].resolve():  # the YAML is in the working directory
            where = f"{candidates[0]} (the working directory is this file's folder)"
        else:
            where = (
                f"{candidates[0]} (from the working directory, as PaddleX does) and {candidates[1]} (beside this file)"
            )
        raise ConfigError(f"{source}: model_dir '{value}' not found: looked in {where}")
    return found


def _from_mapping(data: dict, source: str) -> PipelineConfig:
    if "SubModules" in data:  # PaddleX 3.x
        unknown = sorted(set(data) - {"pipeline_name", "SubModules", "device", "use_hpip", "hpi_config"})
        if unknown:
            raise ConfigError(f"{source}: unknown top-level key(s): {', '.join(unknown)}")
        modules = data["SubModules"]
        if not isinstance(modules, dict) or not isinstance(modules.get(SECTION), dict):
            raise ConfigError(f"{source}: SubModules.{SECTION} is missing")
        section = modules[SECTION]
        unknown = sorted(set(section) - _SECTION_KEYS)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) in SubModules.{SECTION}: {', '.join(unknown)}")
        fields = {k: v for k, v in section.items() if k != "module_name"}
        fields.setdefault("device", data.get("device"))
        hpi = hpi_backend(data.get("use_hpip"), None, data.get("hpi_config"), source)
        if hpi is not None:
            fields.setdefault("backend", hpi)  # a backend the section names wins
        name = data.get("pipeline_name", PIPELINE_NAME)
    elif "Pipeline" in data:  # the older seed form
        pipeline = data["Pipeline"]
        if not isinstance(pipeline, dict):
            raise ConfigError(f"{source}: Pipeline must be a mapping")
        unknown = sorted(set(pipeline) - _SEED_KEYS)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) in Pipeline: {', '.join(unknown)}")
        fields = dict(pipeline)
        if "model" in fields:
            fields["model_name"] = fields.pop("model")
        name = (data.get("Global") or {}).get("pipeline_name", PIPELINE_NAME)
    else:
        raise ConfigError(f"{source}: not a pipeline config (no SubModules or Pipeline section)")
    fields = {k: v for k, v in fields.items() if v is not None or k in ("model_dir", "threshold")}
    if fields.get("model_dir") is not None:
        fields["model_dir"] = str(_resolve_relative_model_dir(str(fields["model_dir"]), source))
    fields["model_name"] = default_model_name(fields.get("model_name"), fields.get("model_dir"))
    return validate(PipelineConfig(pipeline_name=name, source=source, **fields))


def builtin_config_text(name: str) -> str:
    file_name = BUILTIN_PIPELINES.get(name)
    if file_name is None:
        raise ConfigError(
            f"unknown pipeline '{name}': expected one of {', '.join(BUILTIN_PIPELINES)} "
            "or the path of a pipeline YAML file"
        )
    return resources.files("pyml.configs").joinpath(file_name).read_text(encoding="utf-8")


def load_pipeline_config(pipeline: str | Path) -> PipelineConfig:
    """A pipeline name (see BUILTIN_PIPELINES) or the path of a pipeline YAML file."""
    text_or_path = str(pipeline)
    if text_or_path in BUILTIN_PIPELINES:
        source, text = f"<pipeline {text_or_path}>", builtin_config_text(text_or_path)
    else:
        path = Path(text_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"unknown pipeline '{text_or_path}': not a pipeline name "
                f"({', '.join(BUILTIN_PIPELINES)}) and no such YAML file"
            )
        source, text = str(path), path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    return _from_mapping(data, source)


def pipeline_config_from_dict(data: Any, source: str = "<config dict>") -> PipelineConfig:
    """A config given as a mapping (PaddleX 3.x's create_pipeline(config={...})), read
    as the YAML file of the same content would be."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping, not {type(data).__name__}")
    return _from_mapping(data, source)


def write_pipeline_config(name: str, save_dir: str | Path, overwrite: bool) -> Path:
    """Copies the shipped YAML of pipeline `name` into save_dir (or to save_dir, if it ends in .yaml)."""
    text = builtin_config_text(name)
    target = Path(save_dir).expanduser()
    if target.suffix not in (".yaml", ".yml"):
        target = target / BUILTIN_PIPELINES[name]
    if target.exists() and not overwrite:
        raise FileExistsError(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(target, text)


__all__ = ["builtin_config_text", "load_pipeline_config", "pipeline_config_from_dict", "write_pipeline_config"]
