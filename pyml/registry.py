"""Pipelines as plugins, and create_pipeline().

A pipeline kind is found by name: the built-in multi-label classification
(under both of its PaddleX names), or an entry point in the group
`pyml.pipelines` whose object is a factory `factory(config_source, **overrides)`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .config import DEMO_MODEL_NAME, PIPELINE_ALIASES, PIPELINE_NAME, load_pipeline_config
from .errors import ConfigError

ENTRY_POINT_GROUP = "pyml.pipelines"


def _multilabel(pipeline: str | Path, **overrides: Any):
    from .pipeline import MultiLabelClassificationPipeline  # noqa: PLC0415 (imports paddle lazily)

    return MultiLabelClassificationPipeline(load_pipeline_config(pipeline).with_overrides(**overrides))


def available_pipelines() -> list[str]:
    return sorted(set(PIPELINE_ALIASES) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def create_pipeline(pipeline: str | Path = "image_multilabel_classification", device: str | None = None,
                    **overrides: Any):
    """A ready pipeline from a pipeline name or a pipeline YAML path.

    Overrides replace config values: device, batch_size, threshold, top_k, model_dir,
    model_name, decode_mode, cpu_threads, enable_mkldnn, preprocess_threads, backend.
    """
    name = str(pipeline)
    if name in PIPELINE_ALIASES or Path(name).expanduser().is_file():
        return _multilabel(pipeline, device=device, **overrides)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()(pipeline, device=device, **overrides)
    raise ConfigError(f"unknown pipeline '{name}': not a pipeline name "
                      f"({', '.join(available_pipelines())}) and no such YAML file")


def create_model(model_name: str | None = None, model_dir: str | Path | None = None,
                 device: str | None = None, batch_size: int = 1, threshold: Any = None,
                 top_k: int | None = None, **options: Any):
    """PaddleX's module-level API: a model you call `.predict(input, batch_size=None,
    threshold=None)` on. It is the same pipeline object create_pipeline() returns.

    With neither a name nor a directory it is the embedded demo model. A model_name
    without a model_dir is an error (pyml never downloads weights); with a model_dir the
    name is informational, as the directory's inference.yml carries its own.
    """
    if model_dir is None and model_name is None:
        model_name = DEMO_MODEL_NAME
    return _multilabel(PIPELINE_NAME, model_name=model_name, model_dir=str(model_dir) if model_dir else None,
                       device=device, batch_size=batch_size, threshold=threshold, top_k=top_k,
                       **options)
