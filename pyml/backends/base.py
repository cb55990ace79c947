"""What every inference backend provides."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """Scores for a batch: float32 [N,3,H,W] in, float32 [N,num_classes] out.

    An instance is used by one thread at a time; `clone()` gives another
    instance (sharing weights where the runtime can) for another thread. `name` is what
    logs, `--verbose` and the server's model config report (a plugin without one is
    reported by the name it was asked for).

    `overlap_preprocess` tells the pipeline whether to decode the next batch while this
    one runs. Paddle's CPU graph leaves cores idle between its operators, so decoding
    alongside it fills them; OpenVINO and ONNX Runtime keep every core busy, and a
    decoder beside them only stalls their threads (measured in docs/speed.md). A plugin
    without the attribute gets the overlap.
    """

    name: str
    overlap_preprocess: bool

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...

    def clone(self) -> Backend: ...
