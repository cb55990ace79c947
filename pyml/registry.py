"""Pipelines as plugins, and create_pipeline().

A pipeline kind is found by name: the built-in multi-label classification
(under both of its PaddleX names), or an entry point in the group
`pyml.pipelines` whose object is a factory `factory(config_source, **overrides)`.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from .config import PIPELINE_ALIASES, load_pipeline_config
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
