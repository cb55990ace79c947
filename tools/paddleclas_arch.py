"""Access to the architectures in the `paddleclas` package (a tools-only dependency).

paddleclas 2.6's top-level `__init__` imports its whole predictor stack (faiss,
an old OpenCV, ...). The architectures need none of that: their subpackage
`ppcls` is imported on its own, from the installed package's folder.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def import_ppcls_arch():
    """The `ppcls.arch` module of the installed paddleclas (build_model, backbones, gears)."""
    spec = importlib.util.find_spec("paddleclas")
    if spec is None or spec.origin is None:
        raise SystemExit(
            "paddleclas is not installed. Install the tools extra: "
            "pip install --no-deps paddleclas==2.6.0 && pip install tqdm prettytable ujson easydict"
        )
    root = os.path.dirname(spec.origin)
    if root not in sys.path:
        sys.path.insert(0, root)
    import logging

    import ppcls.arch  # noqa: PLC0415  (needs the path set above)
    from ppcls.utils import logger  # noqa: PLC0415

    logger.init_logger(log_level=logging.WARNING)  # some backbones log while being built
    return ppcls.arch
