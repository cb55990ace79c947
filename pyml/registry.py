"""Pipelines as plugins, and create_pipeline().

A pipeline kind is found by name: the built-in multi-label classification
(under both of its PaddleX names, which run the seed's official model, and as
`pyml_demo`, which runs the embedded demo model), or an entry point in the group
`pyml.pipelines` whose object is a factory `factory(config_source, **overrides)`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .config import BUILTIN_PIPELINES, DEFAULT_PIPELINE, PIPELINE_NAME
from .errors import ConfigError
from .models import default_model_name
from .pipeline_yaml import load_pipeline_config, pipeline_config_from_dict

ENTRY_POINT_GROUP = "pyml.pipelines"


def _multilabel(pipeline: str | Path | dict, **overrides: Any):
    """The built-in pipeline from a name, a YAML path or a config dict."""
    from .pipeline import MultiLabelClassificationPipeline  # noqa: PLC0415 (imports paddle lazily)

    config = pipeline_config_from_dict(pipeline) if isinstance(pipeline, dict) else load_pipeline_config(pipeline)
    return MultiLabelClassificationPipeline(config.with_overrides(**overrides))


def available_pipelines() -> list[str]:
    return sorted(set(BUILTIN_PIPELINES) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def create_pipeline(
    pipeline: str | Path | None = None, device: str | None = None, config: dict | None = None, **overrides: Any
):
    """A ready pipeline from a pipeline name or a pipeline YAML path (default: the
    offline demo; PaddleX's names run PP-LCNet_x1_0_ML, found or downloaded by name).

    Overrides replace config values: any field of PipelineConfig (pyml/config.py, the one
    list: model_name, model_dir, batch_size, threshold, top_k, device, backend, ...).
    `config` is the pipeline config as a dict (PaddleX 3.x's form of the same YAML); then
    `pipeline` may be omitted.
    """
    if config is not None:
        if pipeline is not None and str(pipeline) not in BUILTIN_PIPELINES:
            raise ConfigError(f"create_pipeline: pass a pipeline name or a config, not the file {pipeline}")
        return _multilabel(config, device=device, **overrides)
    pipeline = DEFAULT_PIPELINE if pipeline is None else pipeline
    name = str(pipeline)
    if name in BUILTIN_PIPELINES or Path(name).expanduser().is_file():
        return _multilabel(pipeline, device=device, **overrides)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()(pipeline, device=device, **overrides)
    raise ConfigError(
        f"unknown pipeline '{name}': not a pipeline name ({', '.join(available_pipelines())}) and no such YAML file"
    )


def create_model(
    model_name: str | None = None,
    model_dir: str | Path | None = None,
    device: str | None = None,
    batch_size: int = 1,
    threshold: Any = None,
    top_k: int | None = None,
    **options: Any,
):
    """PaddleX's module-level API: a model you call `.predict(input, batch_size=None,
    threshold=None)` on. It is the same pipeline object create_pipeline() returns.

    With neither a name nor a directory it is the embedded demo model. A name without a
    directory is found as PaddleX finds it (its cache, else its official download; see
    pyml.models); with a model_dir the name is informational, as the directory's
    inference.yml carries its own.
    """
    return _multilabel(
        PIPELINE_NAME,
        model_name=default_model_name(model_name, model_dir),
        model_dir=str(model_dir) if model_dir else None,
        device=device,
        batch_size=batch_size,
        threshold=threshold,
        top_k=top_k,
        **options,
    )
