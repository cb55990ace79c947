"""Serving, side by side: pyml's gRPC service (bidirectional streams, dynamic
batching) against PaddleX's basic serving (`paddlex --serve`, HTTP + JSON with
base64 images), each a subprocess on loopback, one after the other, driven by
the same number of concurrent callers sending the same 640x480 JPEGs."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc

OUT = Path(__file__).resolve().parent / "out" / "serving"
PADDLEX_ENDPOINT = "/multilabel-image-classification"
IN_FLIGHT_PER_STREAM = 1  # the same number of requests in flight as PaddleX's HTTP callers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pipeline_yaml(name: str, model_dir: str, extra: str = "") -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}{'-pyml' if extra else ''}.yaml"
    path.write_text(f"""pipeline_name: image_multilabel_classification
SubModules:
  ImageMultiLabelClassification:
    module_name: image_multilabel_classification
    model_name: {name}
    model_dir: {model_dir}
    batch_size: 8
    threshold: 0.5
{extra}""")
    return path


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class _Tally:
    """What the callers saw, shared between their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.done = 0
        self.errors = 0

    def add(self, latency: float, ok: bool) -> None:
        with self.lock:
            self.latencies.append(latency)
            if ok:
                self.done += 1
            else:
                self.errors += 1


def _drive(caller, callers: int) -> dict:
    """Runs caller(k, tally) on `callers` threads until they return; summarises."""
    tally = _Tally()
    start = time.perf_counter()
    workers = [threading.Thread(target=caller, args=(k, tally)) for k in range(callers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - start
    return {"images_per_s": tally.done / seconds, "requests": tally.done, "errors": tally.errors,
            "p50_latency_ms": statistics.median(tally.latencies) * 1000 if tally.latencies else float("nan")}


def run_pyml(name: str, model_dir: str, images: list[bytes], threads: int, callers: int,
             seconds: float) -> dict:
    port = _free_port()
    yaml_path = _pipeline_yaml(name, model_dir, f"    cpu_threads: {threads}\n")
    proc = subprocess.Popen([sys.executable, "-m", "pyml.cli", "serve", "--pipeline", f"model={yaml_path}",
                             "--port", str(port), "--max_batch_size", "8"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        target = f"127.0.0.1:{port}"
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=180)
            health = health_pb2_grpc.HealthStub(channel)
            while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != \
                    health_pb2.HealthCheckResponse.SERVING:
                time.sleep(0.1)
        deadline = time.perf_counter() + seconds

        def caller(k: int, tally: _Tally) -> None:
            window = threading.Semaphore(IN_FLIGHT_PER_STREAM)
            sent: dict[str, float] = {}

            def requests():
                i = 0
                while time.perf_counter() < deadline:
                    window.acquire()
                    rid = f"{k}-{i}"
                    sent[rid] = time.perf_counter()
                    yield pb.ClassifyRequest(request_id=rid, encoded=images[(k + i) % len(images)])
                    i += 1

            with grpc.insecure_channel(target) as ch:
                for response in pb_grpc.MultiLabelClassifierStub(ch).ClassifyStream(requests(), timeout=seconds + 120):
                    window.release()
                    tally.add(time.perf_counter() - sent.pop(response.request_id), not response.HasField("error"))

        return _drive(caller, callers)
    finally:
        _stop(proc)


def run_paddlex(name: str, model_dir: str, images: list[bytes], threads: int, callers: int,
                seconds: float) -> dict:
    port = _free_port()
    yaml_path = _pipeline_yaml(name, model_dir)
    cli = Path(sys.executable).parent / "paddlex"
    env = dict(os.environ, PADDLE_PDX_CPU_NUM_THREADS=str(threads), PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True")
    proc = subprocess.Popen([str(cli), "--serve", "--pipeline", str(yaml_path), "--port", str(port),
                             "--host", "127.0.0.1", "--device", "cpu"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}{PADDLEX_ENDPOINT}"
    # visualize=False: pyml's server draws nothing either (and PaddleX's drawing fetches a font online).
    bodies = [json.dumps({"image": base64.b64encode(data).decode(), "visualize": False}).encode()
              for data in images]

    def post(body: bytes) -> dict:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    try:
        ready_by = time.time() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"paddlex --serve exited: {proc.stderr.read()[-2000:]}")
            try:
                post(bodies[0])
                break
            except urllib.error.HTTPError as exc:  # up, but failing: no point waiting
                raise RuntimeError(f"paddlex --serve answered HTTP {exc.code}: {exc.read()[:300]!r}") from None
            except OSError:
                if time.time() > ready_by:
                    raise TimeoutError("paddlex --serve did not answer within 300 s") from None
                time.sleep(1)
        deadline = time.perf_counter() + seconds

        def caller(k: int, tally: _Tally) -> None:
            i = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                answer = post(bodies[(k + i) % len(bodies)])
                tally.add(time.perf_counter() - started, answer.get("errorCode") == 0)
                i += 1

        return _drive(caller, callers)
    finally:
        _stop(proc)


def compare(name: str, model_dir: str, paths: list[str], threads: int, callers: int = 8,
            seconds: float = 20.0) -> dict:
    images = [Path(p).read_bytes() for p in paths]
    out = {"model": name, "callers": callers, "seconds": seconds, "image_size": "640x480"}
    out["pyml"] = run_pyml(name, model_dir, images, threads, callers, seconds)
    try:
        out["paddlex"] = run_paddlex(name, model_dir, images, threads, callers, seconds)
    except (RuntimeError, TimeoutError, OSError) as exc:
        out["paddlex"] = {"error": str(exc)}
    return out
