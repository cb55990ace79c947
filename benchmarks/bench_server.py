"""Serving speed next to in-process predict, in one run on the same images: gRPC (unary,
streams, KServe v2 ModelInfer) and PaddleX's HTTP door (base64 JSON, visualize on as PaddleX's default, and off).

    python -m benchmarks.bench_server [--arch demo PP-LCNet_x1_0_ML] [--images 256] [--instances 1] [--quick]

Starts a real pyml server on 127.0.0.1 (dynamic batching, max_batch_size 8) and
measures images/s and per-image p50/p99 latency for unary calls and for
bidirectional streams at concurrency 1, 4 and 16, and HTTP requests (one keep-alive
connection per caller) at 1 and 16 callers, beside `pipeline.predict` in
the server's process with batch size 8. The callers run in a separate client
process, as real clients do (in one process they would share the server's GIL).
Models: the embedded demo model and a PP-LCNet_x1_0_ML export made on the fly
(seeded random weights). The callers share the server's cores: `callers` is their
process's share of the machine's CPU over the row, and `vs left` the ratio to
in-process after taking that share away (what the server did with the CPU it had).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import multiprocessing
import socket
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import cv2
import grpc
import numpy as np

import pyml
from pyml.backends.device import usable_cores
from pyml.serving import ServerOptions, create_server
from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc


class ServerThread:
    def __init__(self, pipeline, options: ServerOptions) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def main():
            self.server = await create_server({"model": pipeline}, "127.0.0.1:0", options)
            self.port, self.state = self.server.port, self.server.state
            self.stop_event = asyncio.Event()
            ready.set()
            await self.stop_event.wait()
            await self.server.drain_and_stop(10)

        def run():
            try:
                self.loop.run_until_complete(main())
            finally:
                self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join()


def make_images(count: int, folder: Path) -> list[Path]:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    paths = []
    for i in range(count):
        rgb = photos[i % len(photos)]
        crop = rgb[(i * 7) % 40 :, (i * 11) % 60 :]  # vary the pixels a little
        path = folder / f"img_{i:04d}.jpg"
        path.write_bytes(cv2.imencode(".jpg", crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
        paths.append(path)
    return paths


def summarize(
    label: str, count: int, timing: tuple[float, float] | float, latencies: list[float], baseline: float | None
):
    """One row. `timing`: wall seconds, or (wall seconds, the callers' CPU seconds): the
    callers share the server's cores, so beside the ratio to in-process the row shows
    the callers' share of the machine and the ratio to what they left the server."""
    seconds, caller_cpu = timing if isinstance(timing, tuple) else (timing, 0.0)
    ips = count / seconds
    p50, p99 = (np.percentile(latencies, q) * 1000 for q in (50, 99)) if latencies else (float("nan"),) * 2
    ratio = f"{ips / baseline:10.2f}" if baseline else f"{'1.00':>10}"
    share = caller_cpu / (seconds * usable_cores())
    left = f"{share:10.1%}{ips / baseline / (1 - share):10.2f}" if baseline and caller_cpu else ""
    print(f"{label:<28}{ips:10.1f}{p50:10.1f}{p99:10.1f}{ratio}{left}")
    return ips


def _callers(worker, count: int, concurrency: int) -> tuple[float, float]:
    """Runs `worker(indices)` on `concurrency` threads, item i on thread i % concurrency;
    returns the wall seconds and the CPU seconds this (the callers') process spent."""
    shards = [range(c, count, concurrency) for c in range(concurrency)]
    start, cpu_start = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, shards))
    return time.perf_counter() - start, time.process_time() - cpu_start


def unary(target: str, blobs: list[bytes], concurrency: int):
    latencies: list[float] = []
    lock = threading.Lock()
    channel = grpc.insecure_channel(target)
    stub = pb_grpc.MultiLabelClassifierStub(channel)

    def worker(indices):
        for i in indices:
            start = time.perf_counter()
            stub.Classify(pb.ClassifyRequest(request_id=str(i), encoded=blobs[i]), timeout=120)
            with lock:
                latencies.append(time.perf_counter() - start)

    elapsed = _callers(worker, len(blobs), concurrency)
    channel.close()
    return elapsed, latencies


def kserve(target: str, blobs: list[bytes], concurrency: int):
    """KServe v2 ModelInfer through tritonclient, one picture a call (an `image` BYTES tensor)."""
    import tritonclient.grpc as triton

    latencies: list[float] = []
    lock = threading.Lock()

    def worker(indices):
        client = triton.InferenceServerClient(target)
        for i in indices:
            image = triton.InferInput("image", [1], "BYTES")
            image.set_data_from_numpy(np.array([blobs[i]], dtype=np.object_))
            start = time.perf_counter()
            client.infer("model", [image], client_timeout=120)
            with lock:
                latencies.append(time.perf_counter() - start)
        client.close()

    return _callers(worker, len(blobs), concurrency), latencies


def streaming(target: str, blobs: list[bytes], concurrency: int, in_flight: int = 8):
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(indices):
        channel = grpc.insecure_channel(target)
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        sent: dict[str, float] = {}
        slots = threading.Semaphore(in_flight)

        def requests():
            for i in indices:
                slots.acquire()
                sent[str(i)] = time.perf_counter()
                yield pb.ClassifyRequest(request_id=str(i), encoded=blobs[i])

        for response in stub.ClassifyStream(requests(), timeout=300):
            slots.release()
            with lock:
                latencies.append(time.perf_counter() - sent[response.request_id])
        channel.close()

    return _callers(worker, len(blobs), concurrency), latencies


def http_calls(port: int, bodies: list[bytes], concurrency: int):
    """PaddleX's HTTP form, each caller on its own keep-alive connection."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(indices):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.connect()
        # Without it the client's last small segment waits on the server's delayed ACK (~40 ms).
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in indices:
            start = time.perf_counter()
            connection.request("POST", "/multilabel-image-classification", bodies[i],
                               {"Content-Type": "application/json"})  # fmt: skip
            answer = json.loads(connection.getresponse().read())
            if answer["errorCode"] != 0:
                raise RuntimeError(answer["errorMsg"])
            with lock:
                latencies.append(time.perf_counter() - start)
        connection.close()

    return _callers(worker, len(bodies), concurrency), latencies


def bench_model(name: str, tmp: Path, count: int, instances: int, client: ProcessPoolExecutor) -> None:
    if name == "demo":
        pipeline = pyml.create_pipeline()
    else:
        from tools.export_arch import export

        pipeline = pyml.create_pipeline(model_dir=str(export(name, tmp / name)), model_name=name)
    paths = make_images(count, tmp)
    blobs = [p.read_bytes() for p in paths]
    print(
        f"\n{pipeline.model.model_name}: {count} JPEG images (~640x427), server max_batch_size 8, "
        f"max_queue_delay 5 ms, {instances} instance(s); callers in a separate process"
    )
    print(f"{'path':<28}{'images/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs local':>10}{'callers':>10}{'vs left':>10}")
    list(pipeline.predict([str(p) for p in paths[:16]], batch_size=8))  # warm-up
    start = time.perf_counter()
    list(pipeline.predict([str(p) for p in paths], batch_size=8))
    local = summarize("in-process predict (b=8)", count, time.perf_counter() - start, [], None)
    server = ServerThread(
        pipeline,
        ServerOptions(max_batch_size=8, max_queue_delay_ms=5, max_queue=1024, instances=instances, http_port=0),
    )
    target = f"127.0.0.1:{server.port}"
    try:
        client.submit(unary, target, blobs[:16], 4).result()  # warm-up
        for c in (1, 4, 16):
            summarize(f"unary, concurrency {c}", count, *client.submit(unary, target, blobs, c).result(), local)
        for c in (1, 4, 16):
            summarize(f"stream, concurrency {c}", count, *client.submit(streaming, target, blobs, c).result(), local)
        for c in (1, 16):
            summarize(f"kserve, concurrency {c}", count, *client.submit(kserve, target, blobs, c).result(), local)
        http_port = server.server.http.port
        encoded = [base64.b64encode(b).decode() for b in blobs]
        for extra in ({}, {"visualize": False}):  # PaddleX's default (on), then off
            bodies = [json.dumps({"image": image, **extra}).encode() for image in encoded]
            for c in (1, 16):
                label = f"http, {'no drawing' if extra else 'visualize on'}, {c}"
                summarize(label, count, *client.submit(http_calls, http_port, bodies, c).result(), local)
        start = time.perf_counter()  # the machine's pace moves: in-process again, after the doors
        list(pipeline.predict([str(p) for p in paths], batch_size=8))
        summarize("in-process predict, again", count, time.perf_counter() - start, [], local)
        sizes = dict(sorted(server.state.hosts["model"].batcher.batch_sizes.items()))
        print(f"server batch sizes (size: batches): {sizes}")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        nargs="+",
        default=["demo", "PP-LCNet_x1_0_ML"],
        help="models to serve: demo and/or PaddleX architectures (exported on the fly)",
    )
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="64 images")
    args = parser.parse_args()
    count = 64 if args.quick else args.images
    from benchmarks.common import cpu

    print(f"CPU: {cpu()}")
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(1, mp_context=spawn) as client:
        for name in args.arch:
            bench_model(name, Path(tmp), count, args.instances, client)


if __name__ == "__main__":
    main()
