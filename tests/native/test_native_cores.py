"""One rule for how many cores pyml uses, in Python and in C++: the affinity mask, capped
by the cgroup's CPU quota. Run under `taskset` and inside a CPU-limited cgroup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from pyml import _native
from pyml.backends.device import usable_cores

# What a process reports: the native rule, Python's, and the size of a default native pool.
REPORT = (
    "import pyml._native as n; from pyml.backends.device import usable_cores; "
    "p = n.Preprocessor(n.PreprocessSpec(short_side=8), threads=0); "
    "print(n.usable_cores(), usable_cores(), p.threads)"
)


def report(prefix: list[str]) -> list[int]:
    run = subprocess.run([*prefix, sys.executable, "-c", REPORT], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return [int(x) for x in run.stdout.split()]


def test_python_and_native_agree():
    assert usable_cores() == _native.usable_cores()
    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))  # a quota may cap it below the mask


def test_taskset_to_one_core_gives_one_thread_everywhere():
    if shutil.which("taskset") is None:
        pytest.skip("taskset is not installed (util-linux)")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this process may use one core only: taskset would change nothing")
    first = min(os.sched_getaffinity(0))
    assert report(["taskset", "-c", str(first)]) == [1, 1, 1]


def _cpu_cgroup_v1() -> Path | None:
    root = Path("/sys/fs/cgroup/cpu")
    return root if (root / "cpu.cfs_quota_us").is_file() and os.access(root, os.W_OK) else None


def test_a_cgroup_cpu_quota_caps_the_count():
    root = _cpu_cgroup_v1()
    if root is None:
        pytest.skip("no writable cgroup v1 cpu controller here (needs root and /sys/fs/cgroup/cpu)")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this process may use one core only: a one-core quota would change nothing")
    group = root / f"pyml-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("100000")  # one core's worth
        script = f"echo $$ > {group / 'cgroup.procs'} && exec {sys.executable} -c '{REPORT}'"
        run = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert [int(x) for x in run.stdout.split()] == [1, 1, 1]
    finally:
        group.rmdir()
