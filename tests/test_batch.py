"""`pyml batch`: rows equal predict(), resume after SIGKILL, and the same job on a real
local Ray cluster (a head node plus a second node joining it), including a killed actor."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import images
import numpy as np
import pytest

import pyml
from pyml.batch import list_inputs, run_batch
from pyml.batch_output import JsonlOutput
from pyml.errors import ConfigError

PYML = [sys.executable, "-m", "pyml.cli"]
BATCH = [*PYML, "batch", "--pipeline", "pyml_demo"]  # the embedded demo model, offline


def _write_collection(folder: Path, count: int, size=(160, 120)) -> list[str]:
    """`count` real-photo crops as JPEG and PNG, in two sub-folders."""
    photos = list(images.photos().values())
    names = []
    for i in range(count):
        photo = photos[i % len(photos)]
        y, x = (i * 7) % (photo.shape[0] - 200), (i * 13) % (photo.shape[1] - 260)
        crop = cv2.resize(np.ascontiguousarray(photo[y : y + 200, x : x + 260, ::-1]), size)
        path = folder / ("a" if i % 2 else "b") / f"{i:05d}{'.jpg' if i % 3 else '.png'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), crop)
        names.append(str(path))
    return names


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _by_name(rows: list[dict]) -> dict[str, dict]:
    named = {row["img_path"]: row for row in rows}
    assert len(named) == len(rows), "a row is written twice"
    return named


def _assert_same_rows(got: dict[str, dict], expected: dict[str, dict]) -> None:
    assert sorted(got) == sorted(expected)
    for name, row in expected.items():
        other = got[name]
        assert other.get("error", {}).get("reason") == row.get("error", {}).get("reason"), name
        assert other["class_ids"] == row["class_ids"], name
        assert other["label_names"] == row["label_names"], name
        np.testing.assert_allclose(other["scores"], row["scores"], atol=2e-5, err_msg=name)


@pytest.fixture(scope="module")
def demo():
    return pyml.create_pipeline(batch_size=4)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Good pictures in nested folders plus a corrupt JPEG, an empty file and a text file
    named like an image."""
    folder = tmp_path_factory.mktemp("collection")
    _write_collection(folder, 40)
    (folder / "a" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "b" / "empty.png").write_bytes(b"")
    (folder / "b" / "notes.jpg").write_text("hello", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def expected(demo, collection):
    return {r["img_path"]: dict(r) for r in demo.predict(str(collection), on_error="return")}


def test_rows_equal_predict_with_bad_files_as_error_rows(demo, collection, expected, tmp_path):
    out = tmp_path / "results.jsonl"
    summary = run_batch(demo, [str(collection), str(tmp_path / "missing.jpg")], out, progress=False)
    rows = _by_name(_rows(out))
    assert rows.pop(str(tmp_path / "missing.jpg"))["error"]["reason"] == "not_found"
    assert rows == expected  # same process, same batches: identical rows
    failed = {Path(n).name for n, r in rows.items() if "error" in r}
    assert failed == {"corrupt.jpg", "empty.png", "notes.jpg"}
    assert (summary.written, summary.failed, summary.skipped) == (len(expected) + 1, 4, 0)


def test_list_file_and_normalised_names(collection, tmp_path, monkeypatch):
    one = sorted((collection / "a").glob("*.jpg"))[0]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a comment\n\n{one}\n{collection / 'b'}\n{one}\n", encoding="utf-8")
    names = list_inputs([], listing)
    assert names[0] == str(one) and names.count(str(one)) == 1  # each input once
    assert len(names) == 1 + len(list((collection / "b").iterdir()))
    monkeypatch.chdir(collection)
    assert list_inputs(["./a/" + one.name]) == ["a/" + one.name]  # the name predict() reports
    with pytest.raises(ConfigError, match="no inputs"):
        list_inputs([])


def test_existing_output_needs_resume_or_overwrite(demo, collection, tmp_path):
    out = tmp_path / "results.jsonl"
    out.write_text('{"img_path": "x", "class_ids": []}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="--resume"):
        run_batch(demo, [str(collection)], out, progress=False)
    run_batch(demo, [str(collection / "a")], out, overwrite=True, progress=False)
    assert "x" not in _by_name(_rows(out))
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("this is not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"garbage.jsonl:1: not a pyml result row"):
        JsonlOutput(garbage, resume=True)


def test_cli_exit_status_progress_and_summary(collection, tmp_path):
    out = tmp_path / "results.jsonl"
    run = subprocess.run(
        [*BATCH, str(collection / "a"), "--output", str(out), "--batch_size", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr  # corrupt.jpg failed
    assert len(run.stderr.splitlines()) == 1, run.stderr  # not a terminal: no bar, only the summary
    assert "1 failed" in run.stderr.splitlines()[-1] and str(out) in run.stderr.splitlines()[-1]
    assert run.stdout == ""
    again = subprocess.run(
        [*BATCH, str(collection / "a"), "--output", str(out)], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 2 and "--resume" in again.stderr


def _wait_for_rows(path: Path, at_least: int, process: subprocess.Popen, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            count = path.read_bytes().count(b"\n")
            if count >= at_least:
                return count
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.02)
    raise AssertionError(f"{path}: fewer than {at_least} rows after {timeout} s")


@pytest.mark.slow
def test_sigkill_then_resume_gives_every_row_once(demo, tmp_path):
    folder = tmp_path / "many"
    names = _write_collection(folder, 1500, size=(320, 240))
    out = tmp_path / "results.jsonl"
    job = subprocess.Popen(
        [*BATCH, str(folder), "--output", str(out), "--batch_size", "4", "--no_progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_rows(out, 40, job)
        job.send_signal(signal.SIGKILL)
    finally:
        job.kill()
        job.communicate(timeout=30)
    before = _rows(out)
    assert 40 <= len(before) < len(names), "the job was not killed partway"
    with open(out, "ab") as f:  # and a kill inside a write: a torn last line
        f.write(b'{"img_path": "' + names[-1].encode() + b'", "class_i')
    resumed = subprocess.run(
        [*BATCH, str(folder), "--output", str(out), "--resume", "--batch_size", "4"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} were already done" in resumed.stderr
    rows = _by_name(_rows(out))
    expected = {r["img_path"]: dict(r) for r in demo.predict(names, on_error="return")}
    _assert_same_rows(rows, expected)
    assert _rows(out)[: len(before)] == before  # what was there is kept as it was


# -- Ray -------------------------------------------------------------------


@pytest.mark.slow
def test_ray_local_gives_the_single_process_rows(collection, expected, tmp_path):
    pytest.importorskip("ray.data", reason="pyml[ray] is not installed")
    out = tmp_path / "ray.jsonl"
    saved = tmp_path / "saved"
    run = subprocess.run(
        [
            *BATCH,
            str(collection),
            "--output",
            str(out),
            "--ray_local",
            "2",
            "--batch_size",
            "4",
            "--no_progress",
            "--save_path",
            str(saved),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"),
    )
    assert run.returncode == 1, run.stderr[-3000:]  # the three bad files
    # Ray's own lines (its C++ core worker's logging.cc / core_worker.cc) go to its log, not here
    assert [line for line in run.stderr.splitlines() if not line.startswith("pyml")] == []
    assert "logging.cc" not in run.stderr and "core_worker.cc" not in run.stderr
    _assert_same_rows(_by_name(_rows(out)), expected)
    # every actor saves where the driver's layout says: the collection's folders kept, one file per image
    good = [row["img_path"] for row in _rows(out) if "error" not in row]
    written = sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*_res.json"))
    assert written == sorted(
        str(Path(name).relative_to(collection).with_name(Path(name).stem + "_res.json")) for name in good
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A head node and a second node joining it, one CPU each, on loopback; stopped at the end."""
    pytest.importorskip("ray.data", reason="pyml[ray] is not installed")
    ray_cli = shutil.which("ray")
    assert ray_cli, "the ray command comes with pyml[ray]"
    home = tmp_path_factory.mktemp("ray")
    token = home / "auth_token"
    token.write_text(secrets.token_hex(32), encoding="utf-8")
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_USAGE_STATS_ENABLED="0")
    port = _free_port()
    node = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--object-store-memory=200000000"]
    stop = [ray_cli, "stop", "--force"]
    try:
        subprocess.run(
            [ray_cli, "start", "--head", f"--port={port}", "--include-dashboard=false", "--disable-usage-stats", *node],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        subprocess.run(
            [ray_cli, "start", f"--address=127.0.0.1:{port}", *node],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run(stop, env=env, capture_output=True, timeout=180)


def _ray_job(address: str, env: dict, inputs: list[str], out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*BATCH, *inputs, "--output", str(out), "--ray", address, "--batch_size", "4", "--no_progress", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ray_with_no_cluster_names_pyml_flags(collection, tmp_path):
    pytest.importorskip("ray.data", reason="pyml[ray] is not installed")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    run = subprocess.run(
        [*BATCH, str(collection), "--output", str(tmp_path / "out.jsonl"), "--ray", "auto", "--no_progress"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(env, RAY_USAGE_STATS_ENABLED="0"),
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pyml: error: --ray auto: no Ray cluster"), run.stderr
    assert "--ray_local N" in lines[0] and "--address" not in lines[0] and "RAY_ADDRESS" not in lines[0]


@pytest.mark.slow
def test_ray_cluster_gives_the_single_process_rows(ray_cluster, collection, expected, tmp_path):
    address, env = ray_cluster
    out = tmp_path / "ray.jsonl"
    job = _ray_job(address, env, [str(collection)], out)
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 1, stderr  # the three bad files
    _assert_same_rows(_by_name(_rows(out)), expected)


@pytest.mark.slow
def test_ray_actor_killed_mid_run_loses_and_doubles_nothing(ray_cluster, demo, tmp_path):
    address, env = ray_cluster
    names = _write_collection(tmp_path / "many", 1200, size=(320, 240))
    out = tmp_path / "ray.jsonl"
    job = _ray_job(address, env, [str(tmp_path / "many")], out)
    try:
        _wait_for_rows(out, 8, job)
        actors = subprocess.run(
            ["pgrep", "-f", r"MapWorker\(MapBatches\(Tagger"], capture_output=True, text=True
        ).stdout.split()
        assert actors, "no Tagger actor process found"
        os.kill(int(actors[0]), signal.SIGKILL)
        killed_at = out.read_bytes().count(b"\n")
    finally:
        if job.poll() is None and "killed_at" not in locals():
            job.kill()
        _, stderr = job.communicate(timeout=600)
    assert killed_at < len(names), "the job ended before the actor was killed"
    assert job.returncode == 0, stderr[-3000:]
    expected = {r["img_path"]: dict(r) for r in demo.predict(names, on_error="return")}
    _assert_same_rows(_by_name(_rows(out)), expected)


@pytest.mark.slow
def test_ray_resume_skips_what_is_done(ray_cluster, collection, expected, tmp_path):
    address, env = ray_cluster
    out = tmp_path / "ray.jsonl"
    first = sorted(expected)[:10]
    out.write_text("".join(json.dumps(expected[n]) + "\n" for n in first), encoding="utf-8")
    job = _ray_job(address, env, [str(collection)], out, "--resume")
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 1, stderr
    assert "10 were already done" in stderr
    _assert_same_rows(_by_name(_rows(out)), expected)


def test_retry_failed_runs_the_failures_again_and_keeps_each_image_once(demo, tmp_path):
    """A failure (here a file that was not there yet, as after a transient download error)
    counts as done for --resume; --retry_failed runs it again and replaces its row."""
    good = tmp_path / "good.jpg"
    good.write_bytes(images.jpeg(images.gradient(120, 90)))
    late = tmp_path / "late.jpg"
    out = tmp_path / "r.jsonl"
    first = run_batch(demo, [str(good), str(late)], out, progress=False)
    assert (first.written, first.failed) == (2, 1)
    late.write_bytes(images.jpeg(images.gradient(100, 80, seed=3)))
    resumed = run_batch(demo, [str(good), str(late)], out, resume=True, progress=False)
    assert resumed.written == 0 and "error" in _by_name(_rows(out))[str(late)]  # a plain resume skips it
    with pytest.raises(ConfigError, match="--retry_failed goes with --resume"):
        run_batch(demo, [str(good)], out, retry_failed=True, overwrite=True, progress=False)
    before = _by_name(_rows(out))[str(good)]
    retried = run_batch(demo, [str(good), str(late)], out, resume=True, retry_failed=True, progress=False)
    assert (retried.written, retried.failed, retried.skipped) == (1, 0, 1)
    assert retried.line().startswith("pyml batch: 1 image in ")  # not "1 images"
    rows = _by_name(_rows(out))  # each image once
    assert set(rows) == {str(good), str(late)} and "error" not in rows[str(late)] and rows[str(good)] == before
    cli = subprocess.run(
        [*BATCH, str(good), str(late), "--output", str(out), "--resume", "--retry_failed", "--no_progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0 and _by_name(_rows(out)) == rows, cli.stderr


@pytest.mark.slow
def test_a_killed_ray_local_driver_leaves_no_ray_processes(collection, tmp_path):
    """SIGKILL cannot run ray.shutdown(); pyml's watchdog stops the local cluster then."""
    pytest.importorskip("ray.data", reason="pyml[ray] is not installed")
    from pyml.ray_watchdog import session_processes

    out = tmp_path / "killed.jsonl"
    many = tmp_path / "many"
    for i in range(8):
        shutil.copytree(collection, many / str(i))
    driver = subprocess.Popen(
        [*BATCH, str(many), "--output", str(out), "--ray_local", "1", "--batch_size", "4", "--no_progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"),
    )
    session, ray_pids, deadline = None, set(), time.time() + 300
    while not (out.exists() and out.stat().st_size > 0):  # rows are being written: the cluster is up
        assert driver.poll() is None and time.time() < deadline, "the job ended before it could be killed"
        time.sleep(0.2)
    for path in Path("/proc").iterdir():  # this driver's session: a child's command line names it
        try:
            cmdline = (path / "cmdline").read_bytes().decode(errors="replace")
            parent = int((path / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent == driver.pid and "session_" in cmdline:
            session = "session_" + cmdline.split("session_", 1)[1].split("/", 1)[0].split("\0", 1)[0]
            break
    assert session, "no Ray process of the driver names its session"
    ray_pids = session_processes(session)
    assert len(ray_pids) >= 3  # gcs, raylet, agents, workers
    driver.kill()
    driver.wait(timeout=60)

    def alive():  # by pid: once the raylet is gone its agents no longer name the session
        return {
            pid
            for pid in ray_pids
            if Path(f"/proc/{pid}").exists()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        }

    deadline = time.time() + 20
    while alive() and time.time() < deadline:
        time.sleep(0.5)
    assert alive() == set(), f"Ray processes of {session} outlived the driver"


def test_without_pipeline_it_runs_the_demo_offline_and_says_so(tmp_path):
    from pyml.models import demo_model_dir

    env = {**os.environ, "PYML_OFFLINE": "1", "PADDLE_PDX_CACHE_HOME": str(tmp_path / "empty")}
    pictures = demo_model_dir().parent / "images"
    run = subprocess.run(
        [*PYML, "batch", str(pictures), "--output", str(tmp_path / "r.jsonl"), "--no_progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "no --pipeline: running the offline demo model (pyml_demo)" in run.stderr
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    demo = pyml.create_pipeline("pyml_demo").predict(str(pictures))
    assert {r["img_path"]: r["label_names"] for r in rows} == {r.input_path: r.label_names for r in demo}
