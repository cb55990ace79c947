"""The OpenVINO backend (`pip install 'pyml[openvino]'`): CPU, fp32 by default, bf16 or
int8 on request.

It reads the model's converted ONNX file (pyml.backends.onnx_convert) and compiles it
once per picture size with a dynamic batch dimension: one compiled model serves every
batch size the dynamic batcher makes. A compiled model per batch size ran 2-3.5% faster
(LCNet at 448, interleaved, this 2-core EPYC) but each holds its own activation memory:
a server that had seen batches of 1 to 8 held 765 MB against 385 MB with one dynamic
model. At most SHAPE_CACHE picture sizes are kept compiled. Precision is pinned: on a CPU with bf16
hardware OpenVINO would otherwise run bf16 by default and change the scores. int8 runs
the model `pyml quantize` made (pyml.backends.quantize); its non-quantized parts stay fp32.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import BackendError
from .device import Device, require_cpu, resolve_threads
from .onnx_convert import onnx_for
from .quantize import find_int8, missing_int8_message

log = logging.getLogger(__name__)
SHAPE_CACHE = 4
PRECISIONS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}  # int8: the hint is for the rest


def _import_openvino():
    try:
        import openvino  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(f"backend 'openvino' is not installed ({exc}): pip install 'pyml[openvino]'") from exc
    return openvino


def cpu_has_bf16(core) -> bool:
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoBackend:
    name = "openvino"
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
        ov = _import_openvino()
        require_cpu("openvino", device)
        if precision not in PRECISIONS:
            raise BackendError(f"backend 'openvino': precision must be one of {', '.join(PRECISIONS)}")
        self._core = ov.Core()
        if precision == "bf16" and not cpu_has_bf16(self._core):
            raise BackendError(
                "precision bf16 needs a CPU with bf16 instructions (avx512_bf16 or AMX); "
                "this one has none, so OpenVINO would emulate it slower than fp32"
            )
        if precision == "int8":
            self.onnx_file = find_int8(Path(model_file), Path(params_file))
            if self.onnx_file is None:
                raise BackendError(missing_int8_message(Path(model_file).parent))
        else:
            self.onnx_file = onnx_for(Path(model_file), Path(params_file))
        try:
            self._model = self._core.read_model(str(self.onnx_file))
        except Exception as exc:
            raise BackendError(f"OpenVINO could not read {self.onnx_file}: {exc}") from exc
        self.input_name = self._model.inputs[0].get_any_name()
        self._settings = {
            "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
            "INFERENCE_NUM_THREADS": resolve_threads(cpu_threads),
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        }
        self._compiled: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()  # an infer request per thread and picture size
        self.device, self.precision = device, precision
        log.info(
            "openvino %s: loaded %s (%s, %d threads)",
            ov.__version__,
            self.onnx_file,
            precision,
            self._settings["INFERENCE_NUM_THREADS"],
        )

    def _request(self, shape: tuple):
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        size = tuple(shape[1:])  # (C, H, W); the batch dimension stays dynamic
        with self._lock:
            compiled = self._compiled.get(size)
            if compiled is None:
                model = self._model.clone()
                model.reshape({self.input_name: [-1, *size]})
                compiled = self._core.compile_model(model, "CPU", self._settings)
                self._compiled[size] = compiled
                if len(self._compiled) > SHAPE_CACHE:
                    self._compiled.popitem(last=False)
            else:
                self._compiled.move_to_end(size)
        request = requests.get(size)
        if request is None or request[0] is not compiled:
            request = requests[size] = (compiled, compiled.create_infer_request())
        return request[1]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        try:
            request = self._request(tuple(batch.shape))
            request.infer({0: np.ascontiguousarray(batch, np.float32)})
            return request.get_output_tensor(0).data.copy()
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"OpenVINO failed on a batch of shape {batch.shape}: {exc}") from exc

    def clone(self) -> OpenVinoBackend:
        return self  # compiled models are shared; each thread has its own infer requests
