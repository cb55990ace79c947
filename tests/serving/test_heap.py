"""heap.py gives freed heap pages back to the system, at most once a second, and a
server's batcher does it when it has nothing to do."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pyml.serving import heap

pytestmark = pytest.mark.skipif(heap._TRIM is None, reason="no glibc malloc_trim here")

FRAGMENTED = """
import psutil
from pyml.serving import heap

rss = lambda: psutil.Process().memory_info().rss / 2**20
chunks = [bytearray(64 * 1024) for _ in range(2000)]   # 125 MB in heap-sized blocks
kept = chunks[::20]                                    # pins the heap's top: no automatic trim
del chunks
before = rss()
trimmed = heap.trim_when_due()
print(before, rss(), trimmed, heap.trim_when_due())
"""


def test_a_trim_returns_freed_heap_pages_and_is_rate_limited():
    run = subprocess.run([sys.executable, "-c", FRAGMENTED], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    before, after, first, second = run.stdout.split()
    assert first == "True" and second == "False"  # the second call within TRIM_EVERY_S does nothing
    assert float(before) - float(after) > 60, (before, after)  # most of the ~119 MB freed went back


def test_the_batcher_trims_when_it_goes_idle():
    from serving_harness import RunningServer

    import pyml
    from pyml.models import demo_model_dir
    from pyml.serving.client import Client

    heap._last = 0.0
    pictures = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
    with RunningServer({"digits": pyml.create_pipeline("pyml_demo")}) as server:
        with Client(server.target, timeout=60) as client:
            assert len(list(client.classify(pictures[:3], model="digits"))) == 3
        deadline = time.monotonic() + 30
        while heap._last == 0.0:
            assert time.monotonic() < deadline, "no trim after the server went idle"
            time.sleep(0.05)
