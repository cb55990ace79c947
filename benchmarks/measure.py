"""Timing helpers for the suite: repeated passes, medians, and a wrapper that
counts the time spent inside a model runner."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_seconds(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class TimedRunner:
    """Wraps a model runner (pyml backend or PaddleX runner); `seconds` sums its calls."""

    def __init__(self, runner) -> None:
        self._runner = runner
        self.seconds = 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self._runner(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start

    def __getattr__(self, name):  # clone(), device, ... pass through
        return getattr(self._runner, name)


def cycle(paths: list[str], n: int) -> list[str]:
    return [paths[i % len(paths)] for i in range(n)]
