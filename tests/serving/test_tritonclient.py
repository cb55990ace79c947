"""pyml as an unchanged tritonclient sees it: inference and Triton's classification
extension from tritonclient's own process; pyml and tritonclient in one process (either
import order); and the Triton extensions tritonclient calls (RepositoryIndex,
ModelConfig, ModelStatistics, a clear UNIMPLEMENTED for the rest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from serving_harness import RunningServer

import pyml
from pyml.models import demo_model_dir

pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")

TESTS = Path(__file__).resolve().parents[1]  # tests/: the harness and helpers
DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))

ONE_PROCESS = """
import json, sys
sys.path.insert(0, sys.argv[2])
first = sys.argv[1]
if first == "tritonclient":
    import tritonclient.grpc as triton
    from pyml.serving import server
else:
    from pyml.serving import server
    import tritonclient.grpc as triton
import numpy as np
import pyml
from serving_harness import RunningServer

with RunningServer({"digits": pyml.create_pipeline()}) as running:
    client = triton.InferenceServerClient(running.target)
    image = triton.InferInput("image", [1], "BYTES")
    image.set_data_from_numpy(np.array([open(sys.argv[3], "rb").read()], dtype=np.object_))
    scores = client.infer("digits", [image]).as_numpy("scores")
    index = client.get_model_repository_index(as_json=True)
    print(json.dumps({"scores": scores.tolist(), "index": index}))
"""


@pytest.mark.parametrize("first", ["tritonclient", "pyml"])
def test_pyml_and_tritonclient_in_one_process(first):
    proc = subprocess.run(
        [sys.executable, "-c", ONE_PROCESS, first, str(TESTS), DEMO_IMAGES[0]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    expected = pyml.create_pipeline()(DEMO_IMAGES[0])[0].all_scores
    assert out["scores"][0] == pytest.approx(expected.tolist(), abs=1e-6)
    assert {"name": "digits", "version": "1", "state": "READY"} in out["index"]["models"]


EXTENSIONS = """
import json, sys
import numpy as np
import tritonclient.grpc as triton

client = triton.InferenceServerClient(sys.argv[1])
out = {"index": client.get_model_repository_index(as_json=True),
       "config": client.get_model_config("digits", as_json=True)["config"],
       "hps_config": client.get_model_config("multilabel-image-classification", as_json=True)["config"],
       "stats_before": client.get_inference_statistics("digits", as_json=True)}
image = triton.InferInput("image", [len(sys.argv) - 2], "BYTES")
image.set_data_from_numpy(np.array([open(p, "rb").read() for p in sys.argv[2:]], dtype=np.object_))
client.infer("digits", [image])
bad = triton.InferInput("image", [1], "BYTES")
bad.set_data_from_numpy(np.array([b"not an image"], dtype=np.object_))
try:
    client.infer("digits", [bad])
except triton.InferenceServerException:
    pass
out["stats"] = client.get_inference_statistics("digits", as_json=True)
out["all_stats"] = client.get_inference_statistics(as_json=True)
unimplemented = {}
for name, call in [("load", lambda: client.load_model("digits")),
                   ("unload", lambda: client.unload_model("digits")),
                   ("shm", lambda: client.get_system_shared_memory_status()),
                   ("cuda_shm", lambda: client.get_cuda_shared_memory_status()),
                   ("trace", lambda: client.get_trace_settings()),
                   ("log", lambda: client.get_log_settings())]:
    try:
        call()
        unimplemented[name] = None
    except triton.InferenceServerException as exc:
        unimplemented[name] = [exc.status(), exc.message()]
out["unimplemented"] = unimplemented
try:
    client.get_model_config("nope")
    out["missing"] = None
except triton.InferenceServerException as exc:
    out["missing"] = exc.status()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def server():
    with RunningServer({"digits": pyml.create_pipeline()}, max_batch_size=4, max_queue_delay_ms=3) as running:
        yield running


def test_extensions_with_an_unchanged_tritonclient(server):
    proc = subprocess.run(
        [sys.executable, "-c", EXTENSIONS, server.target, *DEMO_IMAGES[:3]], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    states = {m["name"]: m["state"] for m in out["index"]["models"]}
    assert states == {"digits": "READY", "multilabel-image-classification": "READY"}

    config = out["config"]
    running = server.state.hosts["digits"].pipeline.backend_name  # auto's choice on this machine
    assert config["name"] == "digits" and config["backend"] == running and config["max_batch_size"] == 4
    assert config["input"] == [{"name": "image", "data_type": "TYPE_STRING", "dims": ["1"]}]
    assert config["output"] == [{"name": "scores", "data_type": "TYPE_FP32", "dims": ["10"]}]
    assert config["dynamic_batching"] == {"preferred_batch_size": [4], "max_queue_delay_microseconds": "3000"}
    assert config["instance_group"][0]["kind"] == "KIND_CPU" and config["instance_group"][0]["count"] == 1
    assert config["parameters"]["precision"] == {"string_value": "fp32"}
    assert out["hps_config"]["input"][0]["name"] == "input"

    before = out["stats_before"]["model_stats"][0]
    after = out["stats"]["model_stats"][0]
    assert after["name"] == "digits"
    grown = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))
    # Every image a batch carried, the one that failed to decode too (= pyml_batch_size_sum).
    assert grown == 4
    stats = after["inference_stats"]
    succeeded_before = int(before.get("inference_stats", {}).get("success", {}).get("count", 0))
    assert int(stats["success"]["count"]) - succeeded_before == 1
    assert int(stats["fail"]["count"]) >= 1
    assert int(stats["queue"]["count"]) >= 3 and int(stats["queue"]["ns"]) > 0
    assert int(stats["compute_infer"]["count"]) >= 1 and int(stats["compute_infer"]["ns"]) > 0
    assert int(after["last_inference"]) > 1_700_000_000_000  # milliseconds since the epoch
    assert sum(int(b["compute_infer"]["count"]) for b in after["batch_stats"]) == int(after["execution_count"])
    assert {m["name"] for m in out["all_stats"]["model_stats"]} == {"digits", "multilabel-image-classification"}

    # a server without a model repository says how to get one; the rest is not pyml's
    for name in ("load", "unload"):
        status, message = out["unimplemented"].pop(name)
        assert status == "StatusCode.FAILED_PRECONDITION" and "--model_repository DIR" in message, name
    for name, (status, message) in out["unimplemented"].items():
        assert status == "StatusCode.UNIMPLEMENTED", name
        assert message.startswith("pyml does not implement") and "Method not found" not in message, name
    assert out["missing"] == "StatusCode.NOT_FOUND"


def test_statistics_match_the_metrics_endpoint(server):
    """ModelStatistics and /metrics read the same samples."""
    from pyml.serving import Client

    with Client(server.target, timeout=60) as client:
        client.classify(DEMO_IMAGES[:2])
    stats = server.state.metrics.model_statistics("digits")
    metrics = server.state.metrics
    assert stats["inference_count"] == int(metrics.value("pyml_batch_size_sum", model="digits"))
    assert stats["execution_count"] == int(metrics.value("pyml_batch_size_count", model="digits"))
    assert stats["queue"][0] == int(metrics.value("pyml_queue_duration_seconds_count", model="digits"))


def test_reflection_describes_the_kserve_service(server):
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
            for symbol in ("inference.GRPCInferenceService", "pyml.v1.MultiLabelClassifier", "grpc.health.v1.Health")
        ]
        replies = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    for reply in replies:
        assert reply.HasField("file_descriptor_response"), reply.error_response.error_message
        assert reply.file_descriptor_response.file_descriptor_proto


TRITON_CLIENT_SCRIPT = """
import json, sys
import numpy as np
import tritonclient.grpc as triton

target, paths = sys.argv[1], sys.argv[2:]
client = triton.InferenceServerClient(target)
out = {"live": client.is_server_live(), "ready": client.is_server_ready(),
       "model_ready": client.is_model_ready("digits")}
meta = client.get_model_metadata("digits")
out["meta"] = [meta.inputs[0].datatype, list(meta.outputs[0].shape)]
image = triton.InferInput("image", [len(paths)], "BYTES")
image.set_data_from_numpy(np.array([open(p, "rb").read() for p in paths], dtype=np.object_))
out["scores"] = client.infer("digits", [image]).as_numpy("scores").tolist()
top = client.infer("digits", [image], outputs=[triton.InferRequestedOutput("scores", class_count=2)])
out["top"] = [[s.decode() for s in row] for row in top.as_numpy("scores")]
bad = triton.InferInput("image", [1], "BYTES")
bad.set_data_from_numpy(np.array([b"not an image"], dtype=np.object_))
try:
    client.infer("digits", [bad])
    out["bad"] = None
except triton.InferenceServerException as exc:
    out["bad"] = [exc.status(), exc.message()]
print(json.dumps(out))
"""


def test_tritonclient_model_infer_and_classification(server, demo_pipeline):
    # tritonclient in its own process, as a real client is (sharing one: test_pyml_and_tritonclient_in_one_process).
    proc = subprocess.run(
        [sys.executable, "-c", TRITON_CLIENT_SCRIPT, server.target, *DEMO_IMAGES[:3]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["live"] and out["ready"] and out["model_ready"]
    assert out["meta"] == ["BYTES", [-1, 10]]
    scores = np.array(out["scores"], np.float32)
    local = list(demo_pipeline.predict(DEMO_IMAGES[:3], threshold=0.0))
    assert scores.shape == (3, 10)
    for row, result in zip(scores, local):
        np.testing.assert_allclose(row, result.all_scores, rtol=1e-6)
    score, index, label = out["top"][0][0].split(":")
    assert int(index) == int(np.argmax(scores[0])) and label == demo_pipeline.labels[int(index)]
    assert float(score) == pytest.approx(scores[0].max(), abs=1e-6)
    assert out["bad"][0] == "StatusCode.INVALID_ARGUMENT" and "image 0" in out["bad"][1]
