"""The gRPC service, for real: a server on loopback, the Python client, grpc stubs."""

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from serving_harness import RunningServer

import pyml
from pyml.errors import InputError, ServiceError
from pyml.serving import Client
from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc

DEMO_IMAGES = sorted(
    (os.path.dirname(pyml.__file__) + "/demo/images/" + n)
    for n in os.listdir(os.path.dirname(pyml.__file__) + "/demo/images")
    if n.endswith(".jpg")
)


@pytest.fixture(scope="module")
def server(demo_pipeline):
    with RunningServer({"digits": demo_pipeline}, max_batch_size=8, max_queue_delay_ms=5) as running:
        yield running


def same(a, b):
    assert a.class_ids == b.class_ids
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_unary_and_stream_equal_in_process_predict(client, demo_pipeline):
    local = {r.input_path: r for r in demo_pipeline.predict(DEMO_IMAGES, threshold=0.1)}
    unary = client.classify(DEMO_IMAGES, threshold=0.1)
    streamed = {r.input_path: r for r in client.classify_stream(DEMO_IMAGES, threshold=0.1)}
    assert [r.input_path for r in unary] == DEMO_IMAGES and sorted(streamed) == DEMO_IMAGES
    for path in DEMO_IMAGES:
        same(unary[DEMO_IMAGES.index(path)], local[path])
        same(streamed[path], local[path])
        assert streamed[path].label_names == local[path].label_names


def test_raw_pixels_and_per_class_threshold(client, demo_pipeline):
    import cv2

    bgr = cv2.imread(DEMO_IMAGES[0])
    local = next(demo_pipeline.predict(bgr, threshold={"default": 0.05, 3: 1.0}))
    remote = client.classify(bgr, threshold={"default": 0.05, 3: 1.0})[0]
    same(remote, local)
    assert 3 not in remote.class_ids


def test_stream_of_200_with_3_corrupt_images(client):
    good = [Path(p).read_bytes() for p in DEMO_IMAGES]
    bad = {57: b"", 120: b"\xff\xd8\xff" + b"\x00" * 50, 180: b"GIF89a-not-supported"}

    def requests():
        for i in range(200):
            yield pb.ClassifyRequest(request_id=f"img-{i}", encoded=bad.get(i, good[i % len(good)]))

    stub = pb_grpc.MultiLabelClassifierStub(client._channel)
    responses = list(stub.ClassifyStream(requests(), timeout=120))
    assert len(responses) == 200
    failed = {r.request_id: r.error for r in responses if r.HasField("error")}
    assert sorted(failed) == ["img-120", "img-180", "img-57"]
    assert all(e.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] for e in failed.values())
    assert failed["img-57"].reason == "empty" and failed["img-180"].reason == "unsupported"


def test_16_concurrent_clients_are_batched_together(server, demo_pipeline):
    expected = {p: r.class_ids for p, r in ((r.input_path, r) for r in demo_pipeline.predict(DEMO_IMAGES))}
    before = sum(n for size, n in server.batch_sizes("digits").items() if size > 1)

    def one_client(i):
        with Client(server.target, timeout=120) as c:
            return [(r.input_path, r.class_ids) for r in c.classify_stream(DEMO_IMAGES * 3, max_in_flight=8)]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(one_client, range(16)))
    for outcome in outcomes:
        assert len(outcome) == 3 * len(DEMO_IMAGES)
        assert all(ids == expected[path] for path, ids in outcome)
    after = sum(n for size, n in server.batch_sizes("digits").items() if size > 1)
    assert after > before, server.batch_sizes("digits")


def test_model_info_health_and_reflection(client, server, demo_pipeline):
    info = client.model_info()
    assert info.name == "digits" and list(info.labels) == demo_pipeline.labels
    assert list(info.models) == ["digits"] and info.max_batch_size == 8
    health = health_pb2_grpc.HealthStub(client._channel)
    for service in ("", "pyml.v1.MultiLabelClassifier"):
        status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(client._channel)
    reply = next(
        stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    )
    names = {s.name for s in reply.list_services_response.service}
    assert {"pyml.v1.MultiLabelClassifier", "grpc.health.v1.Health"} <= names


def test_errors_map_to_status_codes(client):
    with pytest.raises(InputError, match=r"not a JPEG or PNG|decodable"):
        stub = pb_grpc.MultiLabelClassifierStub(client._channel)
        try:
            stub.Classify(pb.ClassifyRequest(encoded=b"nonsense"), timeout=10)
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
            raise InputError(exc.details()) from None
    with pytest.raises(ServiceError, match="NOT_FOUND"):
        client.model_info("no-such-model")
    bad = pb.ClassifyRequest(raw=pb.RawImage(height=4, width=4, channels=3, pixels=b"123"))
    with pytest.raises(grpc.RpcError) as info:
        pb_grpc.MultiLabelClassifierStub(client._channel).Classify(bad, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "needs 48" in info.value.details()


def test_queue_overflow_is_resource_exhausted_and_server_recovers(demo_pipeline):
    with RunningServer({"digits": demo_pipeline}, max_batch_size=1, max_queue=2, max_queue_delay_ms=0) as running:
        data = Path(DEMO_IMAGES[0]).read_bytes()
        channel = grpc.insecure_channel(running.target)
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        futures = [stub.Classify.future(pb.ClassifyRequest(encoded=data), timeout=60) for _ in range(60)]
        codes = []
        for f in futures:
            try:
                f.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) > 0 and codes.count(grpc.StatusCode.OK) > 0
        # recovered: the next call gets the pipeline's own answer
        answer = stub.Classify(pb.ClassifyRequest(encoded=data), timeout=60)
        assert [c.name for c in answer.categories] == next(demo_pipeline.predict(DEMO_IMAGES[0])).label_names
        channel.close()


def test_expired_deadline_is_dropped_before_inference(demo_pipeline):
    # The window (2 s) outlasts the first call's deadline (0.2 s) whatever the machine's
    # speed: the batch holding it closes after it expired, so it is never run. (A call that
    # expires before it even reaches the server ends the same way.)
    with RunningServer({"digits": demo_pipeline}, max_batch_size=8, max_queue_delay_ms=2000) as running:
        channel = grpc.insecure_channel(running.target)
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        data = Path(DEMO_IMAGES[0]).read_bytes()
        expiring = stub.Classify.future(pb.ClassifyRequest(encoded=data), timeout=0.2)
        # Queued behind it, with time to spare: the batcher takes the expired job first (FIFO),
        # alone or in the same batch as this one, and must run only this one.
        answer = stub.Classify(pb.ClassifyRequest(encoded=data), timeout=120)
        assert [c.name for c in answer.categories] == next(demo_pipeline.predict(DEMO_IMAGES[0])).label_names
        with pytest.raises(grpc.RpcError) as info:
            expiring.result()
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert running.batch_sizes("digits") == {1: 1}
        channel.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queued(metrics_port: int) -> float:
    """The server's pyml_queue_depth, summed over its models."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("pyml_queue_depth{"))


def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path):
    port, metrics_port = free_port(), free_port()
    # A batching window far longer than the test keeps every request queued (accepted, not
    # answered) until SIGTERM; the test waits until the server reports all 40 queued.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "serve",
            "--pipeline",
            "pyml_demo",
            "--port",
            str(port),
            "--max_queue_delay_ms",
            "30000",
            "--max_batch_size",
            "64",
            "--metrics_port",
            str(metrics_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=120)
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.time() + 60
        while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != health_pb2.HealthCheckResponse.SERVING:
            assert time.time() < deadline
            time.sleep(0.1)
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        data = Path(DEMO_IMAGES[0]).read_bytes()
        in_flight = [
            stub.Classify.future(pb.ClassifyRequest(request_id=str(i), encoded=data), timeout=60) for i in range(40)
        ]
        deadline = time.time() + 60
        while queued(metrics_port) < 40:
            assert time.time() < deadline, f"only {queued(metrics_port)} of 40 queued"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        answered = [(str(i), f.result().request_id) for i, f in enumerate(in_flight)]  # none may fail
        assert all(sent == got for sent, got in answered) and len(answered) == 40
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        said = [line for line in err.splitlines() if line.startswith("pyml: ")]
        assert said[0].startswith("pyml: draining: no new requests; finishing ") and "queued" in said[0], err
        assert said[-1].startswith("pyml: stopped after "), err
        channel.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_two_models_on_one_server(demo_pipeline, lcnet_export):
    strict = pyml.create_pipeline(threshold=0.99)
    lcnet = pyml.create_pipeline(model_dir=str(lcnet_export), model_name="PP-LCNet_x1_0_ML")
    with RunningServer({"digits": demo_pipeline, "strict": strict, "lcnet": lcnet}) as running:
        with Client(running.target, timeout=60) as client:
            assert list(client.model_info().models) == ["digits", "strict", "lcnet"]
            assert client.model_info("lcnet").input_width == 448
            loose = client.classify(DEMO_IMAGES[:4], model="digits")
            tight = client.classify(DEMO_IMAGES[:4], model="strict")
            for a, b in zip(loose, tight):
                assert set(b.class_ids) <= set(a.class_ids) and all(s > 0.99 for s in b.scores)
            assert len(client.classify(DEMO_IMAGES[0], model="lcnet", threshold=0.0)[0].class_ids) == 80
            streamed = list(client.classify_stream(DEMO_IMAGES[:2], model="nope"))
            assert all(r.error is not None and r.error.reason == "unknown_model" for r in streamed)
        assert running.batch_sizes("lcnet") and running.batch_sizes("strict")


def test_two_model_instances_answer_like_predict(demo_pipeline):
    """--instances 2: two predictors run batches at once while the next is prepared;
    every answer is still the one predict() gives for that image."""
    from concurrent.futures import ThreadPoolExecutor

    with RunningServer({"digits": demo_pipeline}, max_batch_size=2, max_queue_delay_ms=1, instances=2) as running:
        assert running.state.hosts["digits"].batcher.instances == 2
        images = DEMO_IMAGES * 6
        with Client(running.target, timeout=60) as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda path: client.classify([path])[0], images))
        expected = {r.input_path: r for r in demo_pipeline.predict(DEMO_IMAGES)}
        for path, answer in zip(images, answers):
            same(answer, expected[path])
        sizes = running.state.hosts["digits"].batcher.batch_sizes
        assert sum(size * n for size, n in sizes.items()) == len(images)
    with pytest.raises(pyml.ConfigError, match="instances must be >= 1"):
        RunningServer({"digits": demo_pipeline}, instances=0)
