"""A pipeline's configuration: one dataclass (PipelineConfig, whose fields are also the
command line's pipeline flags), its validation, and the pipelines known by name. The
YAML forms PaddleX users write, and the shipped files, are read in pipeline_yaml.py.
Every mistake is a ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .backends import PRECISIONS
from .backends.device import parse_device
from .errors import ConfigError
from .flags import flag, flag_fields
from .label_filter import LabelFilter
from .models import DEMO_MODEL_NAME, check_name, is_demo

PIPELINE_NAME = "image_multilabel_classification"
DEMO_PIPELINE = "pyml_demo"
# The one rule for a door that is given no pipeline: the demo, which runs offline
# (create_pipeline(), pyml batch). PaddleX's own forms (`pyml --input`, `pyml serve`) ask
# for --pipeline, as PaddleX does; nothing ever downloads a model nobody named.
DEFAULT_PIPELINE = DEMO_PIPELINE
# The names a pipeline YAML's pipeline_name may carry (PaddleX uses both spellings).
PIPELINE_ALIASES = {PIPELINE_NAME: PIPELINE_NAME, "multi_label_image_classification": PIPELINE_NAME}
# The pipelines found by name, and the shipped YAML each one is: PaddleX's names run the
# seed's official model (found or downloaded as PaddleX does); pyml_demo runs the
# embedded demo model offline.
BUILTIN_PIPELINES = {
    PIPELINE_NAME: "image_multilabel_classification.yaml",
    "multi_label_image_classification": "image_multilabel_classification.yaml",
    DEMO_PIPELINE: "pyml_demo.yaml",
}
SECTION = "ImageMultiLabelClassification"
DECODE_MODES = ("exact", "fast")
AUTO_MEASURE = ("before", "while_serving")


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline's settings. A field with `help` in its metadata is also a command-line
    flag (`add_pipeline_options` in pyml/cli/common.py), with the metadata's type and choices."""

    pipeline_name: str = PIPELINE_NAME
    model_name: str | None = None  # None: nothing named; models.default_model_name decides (the demo)
    model_dir: str | None = flag(  # None: found by model_name (pyml.models), or the demo model
        None, "a model directory to run in the pipeline instead of its own (e.g. pyml train's best_model/inference)"
    )
    batch_size: int = flag(1, "images per inference batch", int)
    threshold: Any = flag(
        None,
        "score threshold for every class (a YAML or the API also take one per "
        "class); default: the model's inference.yml",
        float,
    )
    top_k: int | None = flag(None, "keep at most K labels per image", int)
    device: str | None = flag(None, "cpu (default), gpu, gpu:N (where paddle has CUDA)")
    decode_mode: str = flag(
        "exact", "JPEG decode: exact (PaddleX's pixels) or fast (DCT scaling on large photos)", choices=DECODE_MODES
    )
    backend: str = flag(
        "auto",
        "auto (default: the fastest backend measured on this machine whose scores pass the "
        "parity rule against Paddle's; measured once per model), paddle (Paddle's answers "
        "bit for bit), openvino, onnxruntime",
    )
    precision: str = flag(
        "fp32",
        "fp32 (default), bf16 (CPUs with avx512_bf16/AMX; changes scores slightly) or int8 "
        "(the model pyml quantize made; openvino)",
        choices=PRECISIONS,
    )
    include_labels: Any = flag(None, "only these labels (comma-separated names); the rest are never returned")
    exclude_labels: Any = flag(None, "never these labels (comma-separated names)")
    include_categories: Any = flag(None, "only labels of these categories (comma-separated, e.g. animal,vehicle)")
    exclude_categories: Any = flag(None, "never labels of these categories (comma-separated)")
    label_names: str | None = flag(
        None, "a label map file: '<id or label><TAB><display name>' a line; results, drawings and metadata show those"
    )
    # backend auto's first measurement on a fresh cache: "before" the first answer, or
    # "while_serving" (Paddle's answers from the measuring process meanwhile; pyml serve's)
    auto_measure: str = "before"
    cpu_threads: int = 0  # 0: one per core available to this process (Paddle's own default is 1)
    enable_mkldnn: bool = True
    preprocess_threads: int = 0  # 0: one per core
    source: str = "<defaults>"  # where it was read from, for messages

    def with_overrides(self, **overrides: Any) -> PipelineConfig:
        """A validated copy; None values leave a field unchanged. PaddleX's fast-path
        switches (use_hpip, enable_hpi, hpi_config) choose the backend."""
        hpi = hpi_backend(
            overrides.pop("use_hpip", None),
            overrides.pop("enable_hpi", None),
            overrides.pop("hpi_config", None),
            f"{self.source}: create_pipeline",
        )
        if hpi is not None and overrides.get("backend") is None:
            overrides["backend"] = hpi
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown pipeline option(s): {', '.join(unknown)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        return validate(dataclasses.replace(self, **changes))


# PaddleX's high-performance inference backends that pyml has; the others it names
# (tensorrt, om, ...) need hardware this build does not drive.
_HPI_BACKENDS = {"paddle": "paddle", "openvino": "openvino", "onnxruntime": "onnxruntime"}


def hpi_backend(use_hpip: Any, enable_hpi: Any, hpi_config: Any, where: str) -> str | None:
    """The backend PaddleX's fast-path switches ask for: `use_hpip=True` (PaddleX 3.x) or
    `enable_hpi=True` (the seed tutorial's name) select `auto`, the fastest backend whose
    answers pass the parity rule (also the default, so they change nothing unless a config
    named another backend); `hpi_config={"backend": ...}` names one. False or None: no
    switch (PaddleX's default is False, and many configs spell it out)."""
    for name, value in (("use_hpip", use_hpip), ("enable_hpi", enable_hpi)):
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"{where}: {name} must be true or false, not {value!r}")
    if hpi_config is not None and not isinstance(hpi_config, dict):
        raise ConfigError(f"{where}: hpi_config must be a mapping, not {type(hpi_config).__name__}")
    chosen = (hpi_config or {}).get("backend")
    if chosen is not None:
        if chosen not in _HPI_BACKENDS:
            raise ConfigError(
                f"{where}: hpi_config backend '{chosen}' is not one pyml has "
                f"({', '.join(_HPI_BACKENDS)}); use_hpip alone picks the fastest of them"
            )
        return _HPI_BACKENDS[chosen]
    if use_hpip or enable_hpi:
        return "auto"
    return None


def _positive_int(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{source}: {key} must be a positive integer, not {value!r}")
    return value


def validate(config: PipelineConfig) -> PipelineConfig:
    src = config.source
    if config.pipeline_name not in PIPELINE_ALIASES:
        raise ConfigError(f"{src}: pipeline_name '{config.pipeline_name}' is not one of {', '.join(PIPELINE_ALIASES)}")
    _positive_int(config.batch_size, "batch_size", src)
    if config.top_k is not None:
        _positive_int(config.top_k, "top_k", src)
    if isinstance(config.cpu_threads, bool) or not isinstance(config.cpu_threads, int) or config.cpu_threads < 0:
        raise ConfigError(f"{src}: cpu_threads must be an integer >= 0, not {config.cpu_threads!r}")
    if (
        isinstance(config.preprocess_threads, bool)
        or not isinstance(config.preprocess_threads, int)
        or config.preprocess_threads < 0
    ):
        raise ConfigError(f"{src}: preprocess_threads must be an integer >= 0")
    if config.decode_mode not in DECODE_MODES:
        raise ConfigError(f"{src}: decode_mode must be one of {', '.join(DECODE_MODES)}, not {config.decode_mode!r}")
    if not isinstance(config.enable_mkldnn, bool):
        raise ConfigError(f"{src}: enable_mkldnn must be true or false")
    if config.precision not in PRECISIONS:
        raise ConfigError(f"{src}: precision must be one of {', '.join(PRECISIONS)}, not {config.precision!r}")
    if config.auto_measure not in AUTO_MEASURE:
        raise ConfigError(f"{src}: auto_measure must be one of {', '.join(AUTO_MEASURE)}, not {config.auto_measure!r}")
    if not isinstance(config.backend, str) or not config.backend:
        raise ConfigError(f"{src}: backend must be a backend name, not {config.backend!r}")
    try:
        parse_device(config.device)
    except ConfigError as exc:
        raise ConfigError(f"{src}: {exc}") from None
    if config.model_dir is None and not is_demo(config.model_name):
        check_name(config.model_name, f"{src}: model_name")
    LabelFilter.of(config, f"{src}: ")  # the forms; the names are checked against the model's labels at load
    return config


def pipeline_options() -> dict[str, dataclasses.Field]:
    """The fields that are also command-line flags, by name."""
    return {f.name: f for f in flag_fields(PipelineConfig)}


__all__ = [
    "BUILTIN_PIPELINES",
    "DEFAULT_PIPELINE",
    "DEMO_MODEL_NAME",
    "DEMO_PIPELINE",
    "PIPELINE_ALIASES",
    "PipelineConfig",
    "pipeline_options",
    "validate",
]
