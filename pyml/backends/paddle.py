"""The Paddle Inference backend: one predictor, one calling thread at a time.

paddle is imported lazily so that importing pyml stays cheap and a missing or
broken paddle install is reported as a BackendError when a model is loaded.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError
from . import PRECISIONS
from .device import Device, prepare_mkl, resolve_threads

log = logging.getLogger(__name__)

# oneDNN keeps compiled kernels per input shape; bound it so that odd batch
# sizes (the last batch of a folder, a server's dynamic batches) cannot grow it forever.
MKLDNN_CACHE_CAPACITY = 16


# paddle is not a hard dependency: a CUDA build (paddlepaddle-gpu) provides the same
# module, and pip would install the CPU wheel over it. The CPU wheel is the `cpu` extra.
PADDLE_MAJOR = 3
PADDLE_INSTALL = (
    "Install it with: pip install 'pyml[cpu]' (the CPU build), or the CUDA build "
    "from Paddle's own index, e.g. pip install paddlepaddle-gpu==3.2.2 -i "
    "https://www.paddlepaddle.org.cn/packages/stable/cu126/"
)


def paddle_installed() -> bool:
    """Whether a `paddle` module is there (CPU or CUDA build), without importing it."""
    return importlib.util.find_spec("paddle") is not None


def import_paddle() -> Any:
    """`import paddle`, without the warning its first import prints that ccache (a C++
    build cache for custom ops) is missing (pyml compiles nothing through paddle, so it
    says nothing to a pyml user), and with its C++ log at ERROR and above. Every pyml
    entry point imports paddle through this."""
    # Paddle's C++ log (glog) prints INFO/WARNING lines about its internals (e.g. while
    # exporting a graph); errors still show. A GLOG_minloglevel the user set wins.
    os.environ.setdefault("GLOG_minloglevel", "2")
    prepare_mkl()  # before paddle loads MKL
    root = logging.getLogger()
    level = root.level  # paddle's first import sets the root logger to WARNING: keep the caller's
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
        try:
            import paddle  # noqa: PLC0415
        except ImportError as exc:
            raise BackendError(f"Paddle is not installed ({exc}). {PADDLE_INSTALL}") from exc
    root.setLevel(level)
    major = paddle.__version__.split(".")[0]
    if major.isdigit() and int(major) < PADDLE_MAJOR:  # "0.0.0" is a source build: trusted
        raise BackendError(
            f"paddle {paddle.__version__} is installed; pyml needs {PADDLE_MAJOR}.x "
            f"(PaddleX 3's model format). {PADDLE_INSTALL}"
        )
    return paddle


def _import_inference():
    try:
        import_paddle()
        from paddle import inference  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise BackendError(f"Paddle Inference is not available ({exc}); pip install paddlepaddle") from exc
    return inference


def check_device(device: Device) -> None:
    import paddle  # noqa: PLC0415 (already imported, quietly, by _import_inference)

    if device.kind == "cpu":
        return
    if device.kind == "gpu":
        if not paddle.device.is_compiled_with_cuda():
            raise BackendError(
                f"device '{device}' requested, but this paddlepaddle build has no CUDA support "
                "(install paddlepaddle-gpu, or use --device cpu)"
            )
        count = paddle.device.cuda.device_count()
        if device.index >= count:
            raise BackendError(f"device '{device}' requested, but only {count} GPU(s) are visible")
        return
    compiled = {"xpu": paddle.device.is_compiled_with_xpu}.get(device.kind)
    available = compiled() if compiled else device.kind in paddle.device.get_all_custom_device_type()
    if not available:
        raise BackendError(
            f"device '{device}' requested, but this paddlepaddle build does not support {device.kind.upper()} devices"
        )


def _check_bf16(device: Device, enable_mkldnn: bool) -> None:
    from paddle.base import core  # noqa: PLC0415

    if device.kind != "cpu" or not enable_mkldnn:
        raise BackendError("precision bf16 is offered on the CPU with oneDNN (enable_mkldnn: true) only")
    if not core.supports_bfloat16_fast_performance():
        raise BackendError(
            "precision bf16 needs a CPU with bf16 instructions (avx512_bf16 or AMX); "
            "this one has none, so oneDNN would emulate it slower than fp32"
        )


class PaddleBackend:
    """Runs a PaddleX inference directory's graph: float32 [N,3,H,W] in, [N,C] out."""

    name = "paddle"
    overlap_preprocess = True  # see Backend

    def __init__(
        self,
        model_file: Path,
        params_file: Path,
        device: Device,
        cpu_threads: int = 0,
        enable_mkldnn: bool = True,
        precision: str = "fp32",
    ) -> None:
        inference = _import_inference()
        check_device(device)
        if precision not in PRECISIONS:
            raise BackendError(f"backend 'paddle': precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if precision == "int8":
            raise BackendError("precision int8 runs on backend openvino (or auto), not paddle: see pyml quantize")
        if precision == "bf16":
            _check_bf16(device, enable_mkldnn)
        config = inference.Config(str(model_file), str(params_file))
        if device.kind == "cpu":
            config.disable_gpu()
            # 0: every core this process may use. Paddle's own default is one thread,
            # which left half of a 2-core machine idle (47 vs 66 images/s, PP-LCNet).
            config.set_cpu_math_library_num_threads(resolve_threads(cpu_threads))
            if enable_mkldnn:
                config.enable_mkldnn()
                config.set_mkldnn_cache_capacity(MKLDNN_CACHE_CAPACITY)
                if precision == "bf16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
        elif device.kind == "gpu":
            config.enable_use_gpu(256, device.index)
        elif device.kind == "xpu":
            config.enable_xpu()
            config.set_xpu_device_id(device.index)
        else:
            config.enable_custom_device(device.kind, device.index)
        # PaddleX 3.x exports are PIR programs (inference.json): run them with the
        # PIR executor; the legacy analysis passes fail on them ("memory_optimize_pass").
        if Path(model_file).suffix == ".json":
            config.enable_new_ir(True)
            config.enable_new_executor()
        if hasattr(config, "set_optimization_level"):  # PaddleX sets 3 too: PP-LCNet batch 1 +10-15% here
            config.set_optimization_level(3)
        config.enable_memory_optim()
        config.disable_glog_info()
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as exc:  # paddle raises bare RuntimeError/ValueError subclasses
            raise BackendError(f"Paddle Inference could not load {model_file}: {exc}") from exc
        self.device = device
        self.input_name = self._predictor.get_input_names()[0]
        self.output_name = self._predictor.get_output_names()[0]
        log.info(
            "loaded %s on %s (oneDNN %s)", model_file, device, "on" if enable_mkldnn and device.kind == "cpu" else "off"
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Scores for a float32 [N,3,H,W] batch. Not thread-safe: use clone() per thread."""
        try:
            handle = self._predictor.get_input_handle(self.input_name)
            handle.reshape(list(batch.shape))
            handle.copy_from_cpu(np.ascontiguousarray(batch, dtype=np.float32))
            self._predictor.run()
            return self._predictor.get_output_handle(self.output_name).copy_to_cpu()
        except Exception as exc:
            raise BackendError(f"Paddle Inference failed on a batch of shape {batch.shape}: {exc}") from exc

    def clone(self) -> PaddleBackend:
        """Another predictor sharing these weights, for another thread."""
        twin = object.__new__(PaddleBackend)
        twin._predictor = self._predictor.clone()
        twin.device, twin.input_name, twin.output_name = self.device, self.input_name, self.output_name
        return twin
