"""The bad-input matrix through each way in: the Python API, the `pyml` command
line and the gRPC service. Every bad input gets a typed error naming it and the
reason, and the next good input is answered correctly."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import grpc
import numpy as np
import pytest
from bad_inputs import DEMO_IMAGES, write_bad_files
from serving_harness import RunningServer

from pyml.errors import ConfigError, InputError
from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc

GOOD = DEMO_IMAGES[0]


@pytest.fixture(scope="module")
def expected(demo_pipeline):
    """The in-process answer for every demo picture: what every surface must give."""
    return {path: (r.class_ids, r.scores) for path, r in zip(DEMO_IMAGES, demo_pipeline.predict(DEMO_IMAGES))}


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, write_bad_files(str(folder))


def check_good(result, expected, path=GOOD):
    assert result.error is None, result.error
    assert result.class_ids == expected[path][0]
    np.testing.assert_allclose(result.scores, expected[path][1], atol=1e-5)


# ---------------------------------------------------------------- Python API


def test_api_bad_files(demo_pipeline, expected, bad_dir):
    _, files = bad_dir
    for path, reasons in files.items():
        [result] = demo_pipeline.predict(path, on_error="return")
        assert result.error is not None and result.error.reason in reasons, (path, result.error)
        assert path in str(result.error)
        with pytest.raises(InputError) as info:
            list(demo_pipeline.predict(path))
        assert info.value.reason in reasons and info.value.source == path
        check_good(next(iter(demo_pipeline.predict(GOOD))), expected)
    # All at once, with good pictures between them: each bad one fails alone.
    mixed = [p for pair in zip(files, DEMO_IMAGES * 3) for p in pair]
    for path, result in zip(mixed, demo_pipeline.predict(mixed, batch_size=4, on_error="return")):
        if path in files:
            assert result.error.reason in files[path]
        else:
            check_good(result, expected, path)


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros((10, 10, 3), np.float32), "dtype float32"),
        (np.zeros((4, 4, 4), np.uint8), "4 channels"),
        (np.zeros((5, 5, 2), np.uint8), "2 channels"),
        (np.zeros((0, 0, 3), np.uint8), "empty shape"),
        (np.zeros((2, 5, 5, 3), np.uint8), "4 dimensions"),
    ],
)
def test_api_bad_arrays(demo_pipeline, expected, array, words):
    [result] = demo_pipeline.predict(array, on_error="return")
    assert result.error.reason == "invalid_array" and words in str(result.error)
    assert "<ndarray 0>" in str(result.error)
    check_good(next(iter(demo_pipeline.predict(GOOD))), expected)


@pytest.mark.parametrize(
    "arguments, words",
    [
        ({"threshold": "high"}, "not a number"),
        ({"threshold": [0.5] * 3}, "has 3 values; the model has 10 classes"),
        ({"threshold": -0.1}, "outside [0, 1]"),
        ({"threshold": 1.5}, "outside [0, 1]"),
        ({"threshold": math.nan}, "outside [0, 1]"),
        ({"threshold": {"default": 0.5, 99: 0.1}}, "not a class id"),
        ({"threshold": {3: 0.1}}, "needs a 'default'"),
        ({"top_k": 0}, "positive integer"),
        ({"top_k": -1}, "positive integer"),
        ({"top_k": 2.5}, "positive integer"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_api_bad_arguments(demo_pipeline, expected, arguments, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]")):
        list(demo_pipeline.predict(GOOD, **arguments))
    check_good(next(iter(demo_pipeline.predict(GOOD))), expected)


def test_api_bad_paths(demo_pipeline, tmp_path):
    (tmp_path / "empty").mkdir()
    for path, reason in ((tmp_path / "missing.jpg", "not_found"), (tmp_path / "empty", "no_images")):
        [result] = demo_pipeline.predict(str(path), on_error="return")
        assert result.error.reason == reason and str(path) in str(result.error)


# ---------------------------------------------------------------- command line


def pyml_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pyml.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_bad_files(bad_dir, tmp_path):
    folder, files = bad_dir
    good_copy = os.path.join(folder, "zz_good.jpg")
    with open(GOOD, "rb") as src, open(good_copy, "wb") as dst:
        dst.write(src.read())
    try:
        proc = pyml_cli("--pipeline", "pyml_demo", "--input", str(folder), "--save_path", str(tmp_path))
    finally:
        os.remove(good_copy)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pyml: error: ")]
    assert len(errors) == len(files)
    for path, reasons in files.items():
        [line] = [e for e in errors if e.startswith(f"pyml: error: {path}: ")]
        assert line.rsplit("(reason: ", 1)[1].rstrip(")") in reasons, line
    assert proc.stdout.count("'img_path'") == 1 and "zz_good.jpg" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zz_good_res.jpg", "zz_good_res.json"]


@pytest.mark.parametrize(
    "args, status, words",
    [
        (["--input", GOOD, "--threshold", "1.5"], 2, "outside [0, 1]"),
        (["--input", GOOD, "--threshold", "high"], 2, "invalid float value"),
        (["--input", GOOD, "--top_k", "0"], 2, "positive integer"),
        (["--input", "/nonexistent/picture.jpg"], 1, "/nonexistent/picture.jpg"),
    ],
)
def test_cli_bad_arguments(args, status, words):
    proc = pyml_cli("--pipeline", "pyml_demo", *args)
    assert proc.returncode == status, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_cli_empty_folder(tmp_path):
    proc = pyml_cli("--pipeline", "pyml_demo", "--input", str(tmp_path))
    assert proc.returncode == 1 and str(tmp_path) in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- gRPC service


@pytest.fixture(scope="module")
def server(demo_pipeline):
    with RunningServer({"digits": demo_pipeline}, max_message_bytes=4 * 1024 * 1024) as running:
        yield running


@pytest.fixture
def stub(server):
    with grpc.insecure_channel(server.target) as channel:
        yield pb_grpc.MultiLabelClassifierStub(channel)


def test_grpc_bad_files_unary_and_stream(client, expected, bad_dir):
    _, files = bad_dir
    for path, reasons in files.items():
        with pytest.raises(InputError) as info:
            client.classify(path)
        assert info.value.reason in reasons, (path, info.value)
        check_good(client.classify(GOOD)[0], expected)
    mixed = [p for pair in zip(files, DEMO_IMAGES * 3) for p in pair]
    results = list(client.classify_stream(mixed))
    assert len(results) == len(mixed)
    for path, result in zip(mixed, results):
        if path in files:
            assert result.error is not None and result.error.reason in files[path], (path, result.error)
        else:
            check_good(result, expected, path)


def raw(height, width, channels, pixels):
    return pb.ClassifyRequest(raw=pb.RawImage(height=height, width=width, channels=channels, pixels=pixels))


def per_class(default, classes):
    return pb.Threshold(per_class=pb.PerClassThreshold(default_value=default, classes=classes))


with open(GOOD, "rb") as _f:
    ENCODED = _f.read()


@pytest.mark.parametrize(
    "request_, status, words",
    [
        (pb.ClassifyRequest(), grpc.StatusCode.INVALID_ARGUMENT, "carries no image"),
        (raw(4, 4, 3, b"123"), grpc.StatusCode.INVALID_ARGUMENT, "needs 48"),
        (raw(4, 4, 4, bytes(64)), grpc.StatusCode.INVALID_ARGUMENT, "HxWx3 or HxWx1"),
        (raw(0, 4, 3, b""), grpc.StatusCode.INVALID_ARGUMENT, "non-zero sides"),
        (raw(60000, 60000, 3, b""), grpc.StatusCode.INVALID_ARGUMENT, "needs 10800000000"),
        (
            pb.ClassifyRequest(encoded=ENCODED, threshold=pb.Threshold(value=-0.1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "outside [0, 1]",
        ),
        (
            pb.ClassifyRequest(encoded=ENCODED, threshold=pb.Threshold(value=1.5)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "outside [0, 1]",
        ),
        (
            pb.ClassifyRequest(encoded=ENCODED, threshold=pb.Threshold(value=math.nan)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "outside [0, 1]",
        ),
        (
            pb.ClassifyRequest(encoded=ENCODED, threshold=per_class(0.5, {99: 0.1})),
            grpc.StatusCode.INVALID_ARGUMENT,
            "not a class id",
        ),
        (pb.ClassifyRequest(encoded=ENCODED, model="no-such-model"), grpc.StatusCode.NOT_FOUND, "no model"),
    ],
)
def test_grpc_bad_fields(stub, client, expected, request_, status, words):
    with pytest.raises(grpc.RpcError) as info:
        stub.Classify(request_, timeout=30)
    assert info.value.code() == status and words in info.value.details(), info.value.details()
    [answer] = list(client.classify_stream([GOOD]))
    check_good(answer, expected)


def test_grpc_huge_top_k_is_every_label(stub, expected):
    response = stub.Classify(pb.ClassifyRequest(encoded=ENCODED, top_k=2**32 - 1), timeout=30)
    assert [c.id for c in response.categories] == expected[GOOD][0]


def test_grpc_oversized_message_is_refused_and_server_goes_on(server, stub, client, expected):
    big = pb.ClassifyRequest(encoded=b"\xff\xd8\xff" + bytes(5 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as info:
        stub.Classify(big, timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as info:  # in a stream, the transport ends the whole stream
        list(stub.ClassifyStream(iter([pb.ClassifyRequest(encoded=ENCODED), big]), timeout=30))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    check_good(client.classify(GOOD)[0], expected)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xff",  # a field tag with no end
        b"\x1a\xff\xff\xff\xff\x0f",  # `encoded` claiming 4 GB
        b"\x22\x05\x08\x01\x10",  # `raw` cut inside its body
        b"\x0a\x02\xc3\x28",  # request_id that is not UTF-8
    ],
)
def test_grpc_malformed_protobuf(server, client, expected, payload):
    with grpc.insecure_channel(server.target) as channel:
        call = channel.unary_unary(
            "/pyml.v1.MultiLabelClassifier/Classify", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.RpcError) as info:
            call(payload, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid pyml.v1.ClassifyRequest" in info.value.details()
    check_good(client.classify(GOOD)[0], expected)


def test_grpc_malformed_item_in_a_stream_fails_alone(server, expected):
    with grpc.insecure_channel(server.target) as channel:
        call = channel.stream_stream(
            "/pyml.v1.MultiLabelClassifier/ClassifyStream",
            request_serializer=None,
            response_deserializer=pb.ClassifyResponse.FromString,
        )
        good = pb.ClassifyRequest(request_id="good", encoded=ENCODED).SerializeToString()
        answers = list(call(iter([good, b"\xff\xff\xff\xff", good]), timeout=60))
    assert len(answers) == 3
    malformed = [a for a in answers if a.HasField("error")]
    assert len(malformed) == 1 and malformed[0].error.reason == "malformed"
    for answer in answers:
        if not answer.HasField("error"):
            assert [c.id for c in answer.categories] == expected[GOOD][0]


def test_api_huge_top_k_is_every_label(demo_pipeline, expected):
    [result] = demo_pipeline.predict(GOOD, top_k=10**12)
    assert result.class_ids == expected[GOOD][0]


def test_kserve_malformed_protobuf_is_invalid_argument(server, client, expected):
    with grpc.insecure_channel(server.target) as channel:
        unary = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.RpcError) as info:
            unary(b"\xff\xff\xff\xff", timeout=30)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid inference.ModelInferRequest" in info.value.details()
        from pyml.v1 import kserve_v2_pb2 as kv

        stream = channel.stream_stream(
            "/inference.GRPCInferenceService/ModelStreamInfer",
            request_serializer=None,
            response_deserializer=kv.ModelStreamInferResponse.FromString,
        )
        ready = kv.ModelReadyRequest(name="digits").SerializeToString()  # parses, as an empty infer request
        answers = list(stream(iter([b"\xff\xff\xff\xff", ready]), timeout=30))
    assert len(answers) == 2 and "not a valid inference.ModelInferRequest" in answers[0].error_message
    check_good(client.classify(GOOD)[0], expected)
