"""Gives a long-lived server's freed heap back to the system.

Every request allocates and frees megabytes (the body, the decoded picture, the drawn
answer, the batch tensor); glibc keeps what is freed inside its arenas, so a server's
resident memory climbs to its busiest moment's and stays there. `malloc_trim(0)` returns
the free pages. It walks the arenas (a few milliseconds), so the batcher calls it only
when it has nothing queued and nothing running, at most once every TRIM_EVERY_S, on its
preparing thread: never in a batch's way. Measured in docs/speed.md. Elsewhere than
glibc there is nothing to call and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time

TRIM_EVERY_S = 1.0

_lock = threading.Lock()
_last = 0.0


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def trim_when_due() -> bool:
    """Trims if TRIM_EVERY_S has passed since the last trim in this process; True if it did."""
    global _last
    if _TRIM is None:
        return False
    with _lock:
        now = time.monotonic()
        if now - _last < TRIM_EVERY_S:
            return False
        _last = now
    _TRIM(0)  # ctypes releases the GIL for the call
    return True
