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


def interleaved_median_seconds(fns: dict[str, Callable[[], Any]], rounds: int, block: int = 2) -> dict[str, float]:
    """Median seconds per function over `rounds` rounds in which each takes its turn: one
    untimed run, then `block` timed ones. Turns, because a shared VM's speed drifts by
    10-20% over minutes and every contender should sample the same minutes; the untimed
    run, because a run right after another contender's is slower (measured: PaddleX at
    batch 8 lost a third when timed once right after pyml's pipelines; with the untimed
    run its PP-LCNet reading matched its reading alone, while PP-HGNetV2-B0 at 640x480
    stayed 30% lower, which is why bench_backends also times PaddleX alone)."""
    times: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - start)
    return {key: statistics.median(samples) for key, samples in times.items()}


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
