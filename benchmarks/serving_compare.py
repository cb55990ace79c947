"""Serving, side by side, against PaddleX's basic serving (`paddlex --serve`, HTTP +
JSON with base64 images): each server a subprocess on loopback, one after the other,
driven by the same number of concurrent callers sending the same 640x480 JPEGs.

- compare(): pyml's gRPC stream door vs PaddleX (visualize off on both: the gRPC door
  draws nothing), the row of `python -m benchmarks.run`;
- http_compare(), `python -m benchmarks.serving_compare`: pyml's PaddleX-compatible HTTP
  door vs PaddleX, the same request JSON, PaddleX's defaults (visualize on), at 1 and 16
  callers, with p50/p99 latency.

PaddleX would download its drawing font at run time; PADDLE_PDX_LOCAL_FONT_FILE_PATH
points it at Debian's DejaVu Sans instead (tools/bootstrap.sh installs it)."""

from __future__ import annotations

import base64
import json
import os
import queue
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
LOCAL_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


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
    return _summary(tally, time.perf_counter() - start)


def _open_loop(post, bodies: list[bytes], rate: float, seconds: float, pool: int) -> dict:
    """Sends `rate` requests a second for `seconds`, on schedule whatever the answers'
    pace (an open loop, as independent users load a server), from up to `pool` requests
    in flight; a latency counts from the moment a request was due, so a request the
    client could not send in time is late too."""
    tally = _Tally()
    due_list: queue.Queue = queue.Queue()

    def worker() -> None:
        while (item := due_list.get()) is not None:
            i, due = item
            try:
                ok = post(bodies[i % len(bodies)]).get("errorCode") == 0
            except urllib.error.HTTPError:
                ok = False
            tally.add(time.perf_counter() - due, ok)

    workers = [threading.Thread(target=worker) for _ in range(pool)]
    for w in workers:
        w.start()
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        due_list.put((i, due))
    for _ in workers:
        due_list.put(None)
    for w in workers:
        w.join()
    return _summary(tally, time.perf_counter() - start)


def _summary(tally: _Tally, seconds: float) -> dict:
    ordered = sorted(tally.latencies)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "images_per_s": tally.done / seconds,
        "requests": tally.done,
        "errors": tally.errors,
        "p50_latency_ms": statistics.median(ordered) * 1000 if ordered else float("nan"),
        "p99_latency_ms": quantile(0.99),
    }


def run_pyml(name: str, model_dir: str, images: list[bytes], threads: int, callers: int, seconds: float) -> dict:
    port = _free_port()
    yaml_path = _pipeline_yaml(name, model_dir, f"    cpu_threads: {threads}\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "serve",
            "--pipeline",
            f"model={yaml_path}",
            "--port",
            str(port),
            "--max_batch_size",
            "8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        target = f"127.0.0.1:{port}"
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=180)
            health = health_pb2_grpc.HealthStub(channel)
            while (
                health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
                != health_pb2.HealthCheckResponse.SERVING
            ):
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


def _bodies(images: list[bytes], visualize: bool | None) -> list[bytes]:
    """PaddleX request JSON; visualize None leaves it out (the server's default)."""
    extra = {} if visualize is None else {"visualize": visualize}
    return [json.dumps({"image": base64.b64encode(data).decode(), **extra}).encode() for data in images]


def _http_load(
    proc: subprocess.Popen, what: str, url: str, bodies: list[bytes], callers: int, seconds: float, rate=None
) -> dict:
    """Waits until the server answers, then drives it with `callers` threads for `seconds`
    (or, given a `rate`, sends that many requests a second from up to `callers` threads)."""

    def post(body: bytes) -> dict:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    ready_by = time.time() + 300
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {proc.stderr.read()[-2000:]}")
        try:
            post(bodies[0])
            break
        except urllib.error.HTTPError as exc:  # up, but failing: no point waiting
            raise RuntimeError(f"{what} answered HTTP {exc.code}: {exc.read()[:300]!r}") from None
        except OSError:
            if time.time() > ready_by:
                raise TimeoutError(f"{what} did not answer within 300 s") from None
            time.sleep(1)
    if rate is not None:
        return _open_loop(post, bodies, rate, seconds, callers)
    deadline = time.perf_counter() + seconds

    def caller(k: int, tally: _Tally) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                ok = post(bodies[(k + i) % len(bodies)]).get("errorCode") == 0
            except urllib.error.HTTPError:
                ok = False
            tally.add(time.perf_counter() - started, ok)
            i += 1

    return _drive(caller, callers)


def run_paddlex(
    name: str,
    model_dir: str,
    images: list[bytes],
    threads: int,
    callers: int,
    seconds: float,
    visualize: bool | None = False,
    rate: float | None = None,
) -> dict:
    # visualize=False in compare(): pyml's gRPC door draws nothing either.
    port = _free_port()
    yaml_path = _pipeline_yaml(name, model_dir)
    cli = Path(sys.executable).parent / "paddlex"
    env = dict(
        os.environ,
        PADDLE_PDX_CPU_NUM_THREADS=str(threads),
        PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True",
        PADDLE_PDX_LOCAL_FONT_FILE_PATH=LOCAL_FONT,
    )
    proc = subprocess.Popen(
        [
            str(cli),
            "--serve",
            "--pipeline",
            str(yaml_path),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--device",
            "cpu",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        return _http_load(
            proc,
            "paddlex --serve",
            f"http://127.0.0.1:{port}{PADDLEX_ENDPOINT}",
            _bodies(images, visualize),
            callers,
            seconds,
            rate,
        )
    finally:
        _stop(proc)


def run_pyml_http(
    name: str,
    model_dir: str,
    images: list[bytes],
    threads: int,
    callers: int,
    seconds: float,
    visualize: bool | None = None,
    rate: float | None = None,
) -> dict:
    http_port = _free_port()
    yaml_path = _pipeline_yaml(name, model_dir, f"    cpu_threads: {threads}\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "serve",
            "--pipeline",
            f"model={yaml_path}",
            "--port",
            str(_free_port()),
            "--http_port",
            str(http_port),
            "--max_batch_size",
            "8",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        return _http_load(
            proc,
            "pyml serve --http_port",
            f"http://127.0.0.1:{http_port}{PADDLEX_ENDPOINT}",
            _bodies(images, visualize),
            callers,
            seconds,
            rate,
        )
    finally:
        _stop(proc)


def compare(name: str, model_dir: str, paths: list[str], threads: int, callers: int = 8, seconds: float = 20.0) -> dict:
    images = [Path(p).read_bytes() for p in paths]
    out = {"model": name, "callers": callers, "seconds": seconds, "image_size": "640x480"}
    out["pyml"] = run_pyml(name, model_dir, images, threads, callers, seconds)
    try:
        out["paddlex"] = run_paddlex(name, model_dir, images, threads, callers, seconds)
    except (RuntimeError, TimeoutError, OSError) as exc:
        out["paddlex"] = {"error": str(exc)}
    return out


def http_compare(
    name: str, model_dir: str, paths: list[str], threads: int, callers: tuple[int, ...] = (1, 16), seconds: float = 20.0
) -> list[dict]:
    """pyml's HTTP door vs paddlex --serve, PaddleX's defaults (visualize on), same bodies."""
    images = [Path(p).read_bytes() for p in paths]
    rows = []
    for n in callers:
        row = {"callers": n, "pyml": run_pyml_http(name, model_dir, images, threads, n, seconds)}
        try:
            row["paddlex"] = run_paddlex(name, model_dir, images, threads, n, seconds, visualize=None)
        except (RuntimeError, TimeoutError, OSError) as exc:
            row["paddlex"] = {"error": str(exc)}
        rows.append(row)
    return rows


def _print_http_table(name: str, rows: list[dict]) -> None:
    print(f"\n{name}, 640x480 JPEGs, HTTP + base64 JSON, visualize on (PaddleX's default)\n")
    print("| callers | server | requests/s | p50 ms | p99 ms | errors | pyml / PaddleX |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for row in rows:
        theirs = row["paddlex"].get("images_per_s")
        for side in ("paddlex", "pyml"):
            r = row[side]
            if "error" in r:
                print(f"| {row['callers']} | {side} | failed: {r['error'][:80]} | | | | |")
                continue
            ratio = f"{r['images_per_s'] / theirs:.2f}x" if side == "pyml" and theirs else ""
            print(
                f"| {row['callers']} | {side} | {r['images_per_s']:.1f} | {r['p50_latency_ms']:.0f} | "
                f"{r['p99_latency_ms']:.0f} | {r['errors']} | {ratio} |"
            )


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.common import OUT as RUN_OUT
    from benchmarks.common import ensure_paddlex, export_models, machine
    from benchmarks.suite_images import write_image_set

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="PP-LCNet_x1_0_ML")
    p.add_argument("--callers", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    ensure_paddlex(argv, module="benchmarks.serving_compare")
    model_dir = export_models([args.model])[args.model]
    paths = write_image_set(RUN_OUT / "images")["640x480"]
    print(f"machine: {machine()}; Paddle math threads {args.threads} on both sides", flush=True)
    rows = http_compare(args.model, model_dir, paths, args.threads, tuple(args.callers), args.seconds)
    _print_http_table(args.model, rows)
    (OUT / "http_compare.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
