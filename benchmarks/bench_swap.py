"""A model swapped under load: 16 callers (gRPC streams of pyml's service, tritonclient
KServe calls, PaddleX HTTP calls) keep asking a real `pyml serve --model_repository ...
--model_control_mode explicit` while version 2 is loaded (v1 -> v2) and then version 1
is unloaded. Prints p50/p99 latency before, during and after the swap, throughput
during the load as a share of steady throughput, how long after the load call returned
the first answer of v2 came, and every failed request (there should be none).

    python -m benchmarks.bench_swap [--seconds 4] [--callers 16]

The versions are the demo model with different thresholds, so each answer says which
version gave it. The server runs in its own process, the callers in this one.
`run_swap` is also what tests/serving/test_swap_under_load.py drives, with short phases.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

V1_THRESHOLD, V2_THRESHOLD = 0.5, 0.02


@dataclass
class Answer:
    door: str
    sent: float  # time.perf_counter()
    done: float
    version: str | None  # which version answered; None for an error
    error: str | None = None


@dataclass
class SwapRun:
    answers: list[Answer] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)  # load1_start, load1_done, load2_start, load2_done
    load_seconds: list[float] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repository(root: Path) -> tuple[Path, bytes, dict[str, list[int]]]:
    """A repository with version 1 of `digits`, version 2's folder ready beside it (not
    in the repository yet), the picture every caller sends and its class ids per version."""
    from pyml.models import demo_model_dir
    from pyml.registry import create_pipeline
    from pyml.train.calibrate import write_thresholds

    pictures = sorted((demo_model_dir().parent / "images").glob("*.jpg"))
    pipeline = create_pipeline()
    chosen, answers = None, {}
    for picture in pictures:  # a picture the two versions answer differently
        scores = pipeline(str(picture))[0].all_scores
        v1 = [int(c) for c in np.argsort(-scores, kind="stable") if scores[c] > V1_THRESHOLD]
        v2 = [int(c) for c in np.argsort(-scores, kind="stable") if scores[c] > V2_THRESHOLD]
        if v1 != v2:
            chosen, answers = picture, {"1": v1, "2": v2}
            break
    assert chosen is not None, "no demo picture tells the versions apart"
    for version, threshold in (("1", V1_THRESHOLD), ("2", V2_THRESHOLD)):
        folder = root / ("repository/digits/1" if version == "1" else "staged/2")
        shutil.copytree(demo_model_dir(), folder)
        write_thresholds(folder, np.full(10, threshold))
    return root / "repository", chosen.read_bytes(), answers


class Server:
    """`pyml serve` in its own process; stopped with SIGTERM (it drains)."""

    def __init__(self, repository: Path) -> None:
        import os

        self.grpc_port, self.http_port = _free_port(), _free_port()
        # a cache of its own: a model's first load converts and measures backends (auto), as on a new machine
        env = dict(os.environ, PYML_CACHE_DIR=str(repository.parent / "cache"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyml", "serve", "--model_repository", str(repository), "--model_control_mode",
             "explicit", "--load_model", "digits", "--port", str(self.grpc_port), "--http_port", str(self.http_port),
             "--no_visualize"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        line = self.proc.stdout.readline()  # the ready line: every model warm
        if not line.startswith("pyml: serving"):
            raise RuntimeError(f"pyml serve did not start: {line}{self.proc.communicate()[1]}")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=120)
        return err


def _grpc_caller(target, picture, answers, stop, out: list) -> None:
    from pyml.serving import Client

    sent: list[float] = []

    def requests():
        while not stop.is_set():
            sent.append(time.perf_counter())
            yield picture

    with Client(target, timeout=120) as client:
        try:
            for result in client.classify_stream(requests(), max_in_flight=1):
                now = time.perf_counter()
                if result.error is not None:
                    out.append(Answer("grpc", sent[-1], now, None, str(result.error)))
                    continue
                ids = list(result["class_ids"])
                version = next((v for v, expected in answers.items() if expected == ids), None)
                out.append(Answer("grpc", sent[-1], now, version, None if version else f"no version answers {ids}"))
        except Exception as exc:  # noqa: BLE001 - a failed stream is a failure, recorded
            out.append(Answer("grpc", time.perf_counter(), time.perf_counter(), None, f"stream: {exc}"))


def _kserve_caller(target, picture, answers, stop, out: list) -> None:
    import tritonclient.grpc as triton

    client = triton.InferenceServerClient(target)
    image = triton.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([picture], dtype=np.object_))
    while not stop.is_set():
        sent = time.perf_counter()
        try:
            response = client.infer("digits", [image])
            out.append(Answer("kserve", sent, time.perf_counter(), response.get_response().model_version))
        except Exception as exc:  # noqa: BLE001 - recorded
            out.append(Answer("kserve", sent, time.perf_counter(), None, str(exc)))
    client.close()


def _http_caller(url, picture, answers, stop, out: list) -> None:
    import base64

    import httpx

    body = {"image": base64.b64encode(picture).decode(), "visualize": False}
    with httpx.Client(timeout=120) as http:
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                response = http.post(url, json=body)
                if response.status_code != 200:
                    out.append(
                        Answer("http", sent, time.perf_counter(), None, f"{response.status_code} {response.text}")
                    )
                    continue
                ids = [c["id"] for c in response.json()["result"]["categories"]]
                version = next((v for v, expected in answers.items() if expected == ids), None)
                error = None if version else f"no version answers {ids}"
                out.append(Answer("http", sent, time.perf_counter(), version, error))
            except Exception as exc:  # noqa: BLE001 - recorded
                out.append(Answer("http", sent, time.perf_counter(), None, str(exc)))


def run_swap(work: Path, seconds: float = 4.0, callers: int = 16, heavy: Path | None = None) -> SwapRun:
    """Steady load for `seconds`, load v2, `seconds`, unload v1 (its folder removed, then a
    load, which follows the disk), `seconds`; with `heavy` (a model directory), then load
    it as a second model while the callers go on asking the first; stop. Every answer is
    recorded."""
    import tritonclient.grpc as triton

    repository, picture, answers = make_repository(work)
    server = Server(repository)
    run = SwapRun()
    target = f"127.0.0.1:{server.grpc_port}"
    url = f"http://127.0.0.1:{server.http_port}/multilabel-image-classification"
    stop = threading.Event()
    kinds = [(_grpc_caller, target), (_kserve_caller, target), (_http_caller, url)]
    threads = [
        threading.Thread(target=kinds[k % 3][0], args=(kinds[k % 3][1], picture, answers, stop, run.answers))
        for k in range(callers)
    ]
    control = triton.InferenceServerClient(target)
    try:
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        shutil.copytree(work / "staged" / "2", repository / "digits" / "2")
        for step in ("load1", "load2"):
            if step == "load2":
                shutil.rmtree(repository / "digits" / "1")
            run.events[f"{step}_start"] = time.perf_counter()
            control.load_model("digits")
            run.events[f"{step}_done"] = time.perf_counter()
            run.load_seconds.append(run.events[f"{step}_done"] - run.events[f"{step}_start"])
            time.sleep(seconds)
        if heavy is not None:  # a big model loading beside the one serving: how much does it slow it?
            shutil.copytree(heavy, repository / "heavy" / "1")
            run.events["heavy_start"] = time.perf_counter()
            control.load_model("heavy")
            run.events["heavy_done"] = time.perf_counter()
            time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
        control.close()
        server.stop()
    run.answers.sort(key=lambda a: a.sent)
    return run


def _latency(answers: list[Answer]) -> tuple[float, float, int]:
    ms = np.array([(a.done - a.sent) * 1000 for a in answers]) if answers else np.zeros(1)
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(answers)


def report(run: SwapRun) -> list[str]:
    from benchmarks.common import machine

    e = run.events
    first = min(a.sent for a in run.answers)
    before = [a for a in run.answers if a.sent < e["load1_start"] and a.sent > first + 1.0]  # past the start-up
    during = [a for a in run.answers if e["load1_start"] <= a.sent < e["load1_done"]]
    settled = e.get("heavy_start", float("inf"))
    after = [a for a in run.answers if e["load2_done"] <= a.sent < settled]
    steady_rate = len(before) / (e["load1_start"] - first - 1.0)
    during_rate = len(during) / max(e["load1_done"] - e["load1_start"], 1e-9)
    first_v2 = min((a.done for a in run.answers if a.version == "2"), default=float("nan"))
    failed = [a for a in run.answers if a.error]
    late_v1 = [a for a in run.answers if a.version == "1" and a.sent >= e["load1_done"]]
    lines = [
        f"pyml model swap under load, {machine()}",
        f"{len(run.answers)} answers from 16 callers (gRPC streams, KServe, HTTP); failed: {len(failed)}; "
        f"answered by v1 though sent after v2's load returned: {len(late_v1)}",
        f"load v2 (build, warm, switch): {run.load_seconds[0]:.2f} s; unload v1: {run.load_seconds[1]:.2f} s",
        f"first v2 answer {1000 * (first_v2 - e['load1_done']):+.0f} ms from the load call's return",
        f"throughput while v2 loads: {during_rate:.0f} req/s = {during_rate / steady_rate:.0%} of steady "
        f"({steady_rate:.0f} req/s)",
        "| phase | requests | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, part in (("before", before), ("during the load of v2", during), ("after the swap", after)):
        p50, p99, n = _latency(part)
        lines.append(f"| {name} | {n} | {p50:.1f} | {p99:.1f} |")
    if "heavy_start" in e:
        heavy = [a for a in run.answers if e["heavy_start"] <= a.sent < e["heavy_done"]]
        rate = len(heavy) / (e["heavy_done"] - e["heavy_start"])
        p50, p99, n = _latency(heavy)
        lines.append(
            f"loading a second, big model beside it took {e['heavy_done'] - e['heavy_start']:.1f} s; meanwhile "
            f"the serving model answered {rate:.0f} req/s = {rate / steady_rate:.0%} of steady, p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms ({n} requests)"
        )
    for a in failed[:5]:
        lines.append(f"failed: {a.door}: {a.error}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="each phase: steady, after v2, after unloading v1")
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument(
        "--heavy", metavar="ARCH", help="then load this architecture's export (e.g. PP-LCNet_x1_0_ML) beside the demo"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        heavy = None
        if args.heavy:
            from benchmarks.common import export_models

            heavy = Path(export_models([args.heavy])[args.heavy])
        run = run_swap(Path(work), args.seconds, args.callers, heavy)
    print("\n".join(report(run)))


if __name__ == "__main__":
    main()
