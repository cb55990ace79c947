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
    """

    name: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...

    def clone(self) -> Backend: ...
