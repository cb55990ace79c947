"""The ONNX Runtime backend (`pip install 'pyml[onnxruntime]'`): CPU, fp32.

It runs the model's converted ONNX file (pyml.backends.onnx_convert) with one
intra-op thread per core and no spinning: idle threads sleep instead of burning the
cores that the preprocessing threads need.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import BackendError
from .device import Device, require_cpu, resolve_threads
from .onnx_convert import onnx_for

log = logging.getLogger(__name__)


def _import_ort():
    try:
        import onnxruntime  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(f"backend 'onnxruntime' is not installed ({exc}): pip install 'pyml[onnxruntime]'") from exc
    return onnxruntime


class OnnxRuntimeBackend:
    name = "onnxruntime"
    overlap_preprocess = False  # see Backend

    def __init__(
        self,
        model_file: Path,
        params_file: Path,
        device: Device,
        cpu_threads: int = 0,
        precision: str = "fp32",
        **_ignored,
    ) -> None:
        ort = _import_ort()
        require_cpu("onnxruntime", device)
        if precision != "fp32":
            raise BackendError(
                f"backend 'onnxruntime' runs fp32 only, not {precision} "
                "(bf16 is offered by the openvino and paddle backends, int8 by openvino)"
            )
        self.onnx_file = onnx_for(Path(model_file), Path(params_file))
        options = ort.SessionOptions()
        options.intra_op_num_threads = resolve_threads(cpu_threads)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        try:
            self._session = ort.InferenceSession(str(self.onnx_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"ONNX Runtime could not load {self.onnx_file}: {exc}") from exc
        self.device = device
        self.input_name = self._session.get_inputs()[0].name
        log.info("onnxruntime %s: loaded %s, %d threads", ort.__version__, self.onnx_file, options.intra_op_num_threads)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        try:
            return self._session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]
        except Exception as exc:
            raise BackendError(f"ONNX Runtime failed on a batch of shape {batch.shape}: {exc}") from exc

    def clone(self) -> OnnxRuntimeBackend:
        return self  # InferenceSession.run is thread-safe
