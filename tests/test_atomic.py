"""pyml.atomic: whole or nothing, no moment without the target, no shared staging names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from pyml import atomic


def test_write_keeps_an_existing_files_mode_and_a_new_file_gets_the_umasks(tmp_path):
    existing = tmp_path / "config.yml"
    existing.write_text("old")
    existing.chmod(0o640)
    atomic.atomic_write_text(existing, "new")
    assert existing.read_text() == "new" and existing.stat().st_mode & 0o777 == 0o640
    fresh = atomic.atomic_write_text(tmp_path / "fresh.json", "{}")
    umask = os.umask(0o022)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yml", "fresh.json"]  # no staging left


def test_a_failed_block_leaves_the_old_folder_and_no_staging(tmp_path):
    final = tmp_path / "best_model"
    final.mkdir()
    (final / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_dir(final) as staging:
        (staging / "weights").write_text("half")
        raise RuntimeError("killed mid-export")
    assert (final / "weights").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["best_model"]


def test_replacing_a_folder_leaves_no_moment_without_it(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    probe = tmp_path / "probe"
    probe.mkdir()
    if not atomic._exchange(probe, final):
        pytest.skip("this filesystem cannot swap folders in one step (renameat2 RENAME_EXCHANGE)")
    atomic._exchange(probe, final)  # back as they were
    missing = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            if not (final / "file").exists():
                missing.append(1)

    (final / "file").write_text("0")
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(1, 200):
            with atomic.atomic_dir(final) as staging:
                (staging / "file").write_text(str(i))
    finally:
        done.set()
        watcher.join()
    assert (final / "file").read_text() == "199"
    assert not missing, f"the folder was missing {len(missing)} times"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "probe"]


def test_threads_writing_one_file_never_share_a_staging_name(tmp_path):
    target = tmp_path / "auto.json"
    errors = []

    def write(n):
        try:
            for _ in range(50):
                atomic.atomic_write_text(target, str(n) * 1000)
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    text = target.read_text()
    assert len(set(text)) == 1 and len(text) == 1000  # one writer's whole content
    assert [p.name for p in tmp_path.iterdir()] == ["auto.json"]


def test_a_process_killed_inside_the_block_leaves_the_old_folder(tmp_path):
    final = tmp_path / "export"
    final.mkdir()
    (final / "weights").write_text("old")
    script = f"""
import os, signal
from pyml.atomic import atomic_dir
with atomic_dir({str(final)!r}) as staging:
    (staging / "weights").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""
    run = subprocess.run([sys.executable, "-c", script], timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert (final / "weights").read_text() == "old"
