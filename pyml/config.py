"""Pipeline configuration: the YAML forms PaddleX users have, validated into one dataclass.

Two layouts are read:
- PaddleX 3.x: `pipeline_name` + `SubModules.ImageMultiLabelClassification.{model_name,
  model_dir, batch_size, threshold}` (+ `device` at the top or in the section);
- the older seed form: `Global.pipeline_name` + `Pipeline.{model, batch_size, device}`.
pyml's own keys (`top_k`, `decode_mode`, `backend`, `precision`, `cpu_threads`, `enable_mkldnn`,
`preprocess_threads`) sit beside them. Every mistake is a ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .backends import PRECISIONS
from .backends.device import parse_device
from .errors import ConfigError
from .flags import flag, flag_fields
from .models import DEMO_MODEL_NAME, check_name, default_model_name, is_demo

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


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline's settings. A field with `help` in its metadata is also a command-line
    flag (`add_pipeline_options` in pyml/cli/common.py), with the metadata's type and choices."""

    pipeline_name: str = PIPELINE_NAME
    model_name: str | None = None  # None: nothing named; models.default_model_name decides (the demo)
    model_dir: str | None = None  # None: found by model_name (pyml.models), or the demo model
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
    if not isinstance(config.backend, str) or not config.backend:
        raise ConfigError(f"{src}: backend must be a backend name, not {config.backend!r}")
    try:
        parse_device(config.device)
    except ConfigError as exc:
        raise ConfigError(f"{src}: {exc}") from None
    if config.model_dir is None and not is_demo(config.model_name):
        check_name(config.model_name, f"{src}: model_name")
    return config


# The keys a YAML may set: every field but the pipeline's name and the bookkeeping.
_MODEL_KEYS = {f.name for f in dataclasses.fields(PipelineConfig)} - {"pipeline_name", "source"}
_SECTION_KEYS = {"module_name", *_MODEL_KEYS}
_SEED_KEYS = {"model", *_MODEL_KEYS - {"model_name"}}  # the seed form calls the model `model`


def pipeline_options() -> dict[str, dataclasses.Field]:
    """The fields that are also command-line flags, by name."""
    return {f.name: f for f in flag_fields(PipelineConfig)}


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
    target.write_text(text, encoding="utf-8")
    return target


__all__ = [
    "BUILTIN_PIPELINES",
    "DEFAULT_PIPELINE",
    "DEMO_MODEL_NAME",
    "DEMO_PIPELINE",
    "PIPELINE_ALIASES",
    "PipelineConfig",
    "builtin_config_text",
    "load_pipeline_config",
    "pipeline_config_from_dict",
    "write_pipeline_config",
]
