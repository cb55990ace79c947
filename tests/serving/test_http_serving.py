"""PaddleX's HTTP serving API, its HPS wire form on the KServe port, and /metrics, on a
real `pyml serve` process on 127.0.0.1, driven by real HTTP and tritonclient clients."""

import base64
import io
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import images
import numpy as np
import pytest
from PIL import Image
from reliability.load import free_port

import pyml
from pyml.models import demo_model_dir

DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
MAX_MESSAGE_MB = 1


class HttpServer:
    def __init__(self, *extra: str, pipelines: tuple[str, ...] = ("pyml_demo",)) -> None:
        self.http_port, self.metrics_port = free_port(), free_port()
        self.grpc_port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyml.cli",
                "serve",
                *(arg for p in pipelines for arg in ("--pipeline", p)),
                "--port",
                str(self.grpc_port),
                "--http_port",
                str(self.http_port),
                "--metrics_port",
                str(self.metrics_port),
                "--max_message_mb",
                str(MAX_MESSAGE_MB),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}", timeout=60)
        deadline = time.time() + 120
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"pyml serve did not come up: {self.proc.communicate()[1]}")
            time.sleep(0.2)

    def infer(self, **body):
        response = self.http.post("/multilabel-image-classification", json=body)
        return response.status_code, response.json()

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self) -> str:
        self.http.close()
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture(scope="module")
def server():
    running = HttpServer()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def demo():
    return pyml.create_pipeline("pyml_demo")


def b64(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def categories(result) -> list[dict]:
    return [
        {"id": c, "name": n, "score": s}
        for c, n, s in zip(result["class_ids"], result["label_names"], result["scores"])
    ]


THRESHOLDS = [None, 0.3, [0.5] * 5 + [0.05] * 5, {"default": 0.7, "1": 0.2, 8: 0.95}]


@pytest.mark.parametrize("threshold", THRESHOLDS, ids=["none", "float", "list", "dict"])
def test_answers_equal_predict_for_every_threshold_form(server, demo, threshold):
    local = list(demo.predict(DEMO_IMAGES, threshold=threshold))
    for path, expected in zip(DEMO_IMAGES, local):
        body = {"image": b64(path), "visualize": False}
        if threshold is not None:
            body["threshold"] = threshold
        status, answer = server.infer(**body)
        assert status == 200, answer
        assert answer["errorCode"] == 0 and answer["errorMsg"] == "Success"
        assert answer["result"] == {"categories": categories(expected)}, path


def test_envelope_log_id_and_visualisation(server):
    status, answer = server.infer(image=b64(DEMO_IMAGES[0]), logId="trace-42")
    assert status == 200 and answer["logId"] == "trace-42"
    assert list(answer) == ["logId", "result", "errorCode", "errorMsg"]
    drawn = Image.open(io.BytesIO(base64.b64decode(answer["result"]["image"])))
    with Image.open(DEMO_IMAGES[0]) as original:
        assert drawn.format == "JPEG" and drawn.width == original.width
        assert drawn.height > original.height  # the red label band
    _, other = server.infer(image=b64(DEMO_IMAGES[0]), visualize=False)
    assert "image" not in other["result"] and other["logId"] != "trace-42"
    health = server.http.get("/health").json()
    assert health["errorCode"] == 0 and health["errorMsg"] == "Healthy"


def _error_list(answer) -> list[dict]:
    return json.loads(answer["errorMsg"])


BAD_REQUESTS = {
    "bad base64": ({"image": "not*base64!"}, "pyml.base64", "image"),
    "undecodable image": ({"image": base64.b64encode(b"\xff\xd8\xff\xe0 junk").decode()}, None, "image"),
    "threshold out of range": ({"threshold": 1.5}, "pyml.invalid_threshold", "threshold"),
    "threshold list too short": ({"threshold": [0.5, 0.5]}, "pyml.invalid_threshold", "threshold"),
    "threshold dict without default": ({"threshold": {"3": 0.5}}, "pyml.invalid_threshold", "threshold"),
    "threshold not a number": ({"threshold": "high"}, None, "threshold"),
    "URL without the flag": ({"image": "http://127.0.0.1:9/x.jpg"}, "pyml.url_refused", "image"),
    "missing image": ({"visualize": False}, "missing", "image"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_are_422_and_the_server_keeps_serving(server, case):
    body, kind, field = BAD_REQUESTS[case]
    if "image" not in body and case != "missing image":
        body = {"image": b64(DEMO_IMAGES[1]), **body}
    status, answer = server.infer(**body)
    assert status == 422 and answer["errorCode"] == 422, answer
    assert set(answer) == {"logId", "errorCode", "errorMsg"}
    errors = _error_list(answer)
    assert errors[0]["loc"][:2] == ["body", field]
    if kind is not None:
        assert errors[0]["type"] == kind
    if case == "undecodable image":
        assert errors[0]["type"] in ("pyml.truncated", "pyml.corrupt") and "image" in errors[0]["msg"]
    status, answer = server.infer(image=b64(DEMO_IMAGES[1]), visualize=False)
    assert status == 200 and answer["result"]["categories"]


def test_oversized_and_malformed_bodies(server):
    model = "pyml-demo-digits_ML"
    refused_before = server.metric("pyml_requests_total", model=model, door="http", code="413")
    huge = {"image": "A" * (MAX_MESSAGE_MB * 1024 * 1024 + 8)}
    response = server.http.post("/multilabel-image-classification", json=huge)
    assert response.status_code == 413 and response.json()["errorCode"] == 413
    assert server.metric("pyml_requests_total", model=model, door="http", code="413") == refused_before + 1
    response = server.http.post(
        "/multilabel-image-classification", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and _error_list(response.json())[0]["type"] == "json_invalid"
    status, _ = server.infer(image=b64(DEMO_IMAGES[2]), visualize=False)
    assert status == 200


HPS_CLIENT_SCRIPT = """
import json, sys
import numpy as np
import tritonclient.grpc as triton

target, payload = sys.argv[1], sys.argv[2]
client = triton.InferenceServerClient(target)
out = {"ready": client.is_model_ready("multilabel-image-classification")}
request = triton.InferInput("input", [1, 1], "BYTES")
request.set_data_from_numpy(np.array([[payload]], dtype=np.object_))
result = client.infer("multilabel-image-classification", inputs=[request],
                      outputs=[triton.InferRequestedOutput("output")])
out["answer"] = json.loads(result.as_numpy("output")[0, 0])
print(json.dumps(out))
"""


@pytest.mark.parametrize(
    "body",
    [
        {"image": "DEMO", "threshold": {"default": 0.4, "8": 0.99}, "visualize": False, "logId": "hps-1"},
        {"image": "not*base64", "logId": "hps-2"},
    ],
    ids=["good", "bad"],
)
def test_hps_wire_form_equals_the_http_answer(server, body):
    body = {**body, "image": b64(DEMO_IMAGES[3]) if body["image"] == "DEMO" else body["image"]}
    status, http_answer = server.infer(**body)
    proc = subprocess.run(
        [sys.executable, "-c", HPS_CLIENT_SCRIPT, f"127.0.0.1:{server.grpc_port}", json.dumps(body)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ready"]
    if status == 200:
        assert out["answer"] == http_answer
    else:  # the same refusal; its errorMsg names the same problem
        assert out["answer"]["errorCode"] == http_answer["errorCode"] == 422
        assert out["answer"]["logId"] == "hps-2"
        assert _error_list(out["answer"]) == _error_list(http_answer)


def test_metrics_count_requests_batches_and_latency(server):
    model = "pyml-demo-digits_ML"
    before = {
        "ok": server.metric("pyml_requests_total", model=model, door="http", code="200"),
        "bad": server.metric("pyml_requests_total", model=model, door="http", code="422"),
        "latency": server.metric("pyml_request_duration_seconds_count", model=model, door="http"),
        "images": server.metric("pyml_batch_size_sum", model=model),
        "queued": server.metric("pyml_queue_duration_seconds_count", model=model),
    }
    for path in DEMO_IMAGES[:3]:
        assert server.infer(image=b64(path), visualize=False)[0] == 200
    assert server.infer(image="###")[0] == 422
    assert server.metric("pyml_requests_total", model=model, door="http", code="200") == before["ok"] + 3
    assert server.metric("pyml_requests_total", model=model, door="http", code="422") == before["bad"] + 1
    assert server.metric("pyml_request_duration_seconds_count", model=model, door="http") == before["latency"] + 4
    assert server.metric("pyml_batch_size_sum", model=model) == before["images"] + 3  # the bad one never queued
    assert server.metric("pyml_queue_duration_seconds_count", model=model) == before["queued"] + 3
    assert server.metric("pyml_inference_duration_seconds_sum", model=model) > 0
    assert server.metric("pyml_queue_depth", model=model) == 0


def test_grpc_requests_are_counted_too(server, tmp_path):
    from pyml.serving import Client

    cut = tmp_path / "cut.jpg"
    cut.write_bytes(images.jpeg(images.gradient(32, 32))[:40])
    model = "pyml-demo-digits_ML"
    before = server.metric("pyml_requests_total", model=model, door="grpc", code="OK")
    failed = server.metric("pyml_requests_total", model=model, door="grpc", code="INVALID_ARGUMENT")
    with Client(f"127.0.0.1:{server.grpc_port}", timeout=60) as client:
        results = list(client.classify_stream([*DEMO_IMAGES[:2], str(cut)]))
    assert sum(r.error is None for r in results) == 2
    assert server.metric("pyml_requests_total", model=model, door="grpc", code="OK") == before + 2
    assert server.metric("pyml_requests_total", model=model, door="grpc", code="INVALID_ARGUMENT") == failed + 1


def test_url_inputs_when_allowed(tmp_path):
    """With --allow_url_inputs the server fetches the URL (here a local HTTP server)."""
    import http.server
    import threading

    (tmp_path / "digits.jpg").write_bytes(Path(DEMO_IMAGES[0]).read_bytes())

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    running = HttpServer("--allow_url_inputs", "--no_visualize")
    try:
        url = f"http://127.0.0.1:{files.server_address[1]}/digits.jpg"
        status, answer = running.infer(image=url)
        _, inline = running.infer(image=b64(DEMO_IMAGES[0]))
        assert status == 200 and answer["result"] == inline["result"]
        assert "image" not in answer["result"]  # --no_visualize
        status, answer = running.infer(image=url.replace("digits", "missing"))
        assert status == 422 and _error_list(answer)[0]["type"] == "pyml.download"
    finally:
        running.stop()
        files.shutdown()
        files.server_close()


def test_answers_arrays_of_scores_like_numpy(server, demo):
    """Scores in the JSON are the rounded float32 scores predict gives (5 decimals)."""
    _, answer = server.infer(image=b64(DEMO_IMAGES[4]), threshold=0.0, visualize=False)
    scores = [c["score"] for c in answer["result"]["categories"]]
    assert len(scores) == len(demo.labels) and scores == sorted(scores, reverse=True)
    assert np.allclose(scores, np.around(scores, 5))


@pytest.mark.parametrize("door, flag", [("HTTP", "--http_port"), ("gRPC", "--port")])
def test_a_taken_port_is_one_line_naming_the_door(door, flag):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": str(free_port()), flag: str(port)}  # the other door on a free port
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pyml.cli",
                "serve",
                "--pipeline",
                "pyml_demo",
                *(a for item in ports.items() for a in item),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"pyml: error: cannot open a door of the server: the {door} door on 127.0.0.1:{port}: Address already in use"
    ]


def test_paddlex_serve_command_starts_the_http_door():
    """`paddlex --serve --pipeline X --port P` is PaddleX's serving command; P is its HTTP port."""
    from pyml.cli import paddlex_serve_argv

    assert paddlex_serve_argv(["--serve", "--pipeline", "a.yaml"]) == ["--pipeline", "a.yaml", "--http_port", "8080"]
    assert paddlex_serve_argv(["--serve", "--port=9", "--pipeline", "x", "--grpc_port", "7"]) == [
        "--pipeline",
        "x",
        "--http_port",
        "9",
        "--port",
        "7",
    ]
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "--serve",
            "--pipeline",
            "pyml_demo",
            "--port",
            str(http_port),
            "--grpc_port",
            str(grpc_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=60) as http:
            deadline = time.time() + 120
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.time() < deadline, proc.communicate()[1]
                time.sleep(0.2)
            image = base64.b64encode(Path(DEMO_IMAGES[0]).read_bytes()).decode()
            answer = http.post("/multilabel-image-classification", json={"image": image}).json()
        assert answer["errorCode"] == 0 and answer["result"]["categories"]
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_return_all_scores_is_opt_in_and_agrees_with_categories(server, demo):
    status, plain = server.infer(image=b64(DEMO_IMAGES[2]), visualize=False)
    assert status == 200 and set(plain["result"]) == {"categories"}  # PaddleX clients see today's answer
    status, full = server.infer(image=b64(DEMO_IMAGES[2]), visualize=False, returnAllScores=True)
    assert status == 200 and full["result"]["categories"] == plain["result"]["categories"]
    every, thresholds = full["result"]["allScores"], full["result"]["thresholds"]
    assert [c["id"] for c in every] == list(range(len(demo.labels))) and len(thresholds) == len(every)
    assert [c["name"] for c in every] == demo.labels
    expected = demo(DEMO_IMAGES[2])[0].all_scores
    np.testing.assert_allclose([c["score"] for c in every], np.round(expected, 5), atol=2e-5)
    kept = sorted((c for c in every if c["score"] > thresholds[c["id"]]), key=lambda c: -c["score"])
    assert [c["id"] for c in kept] == [c["id"] for c in full["result"]["categories"]]
    status, per_class = server.infer(image=b64(DEMO_IMAGES[2]), visualize=False, returnAllScores=True, threshold=0.2)
    assert status == 200 and per_class["result"]["thresholds"] == [0.2] * len(every)


def test_model_name_picks_a_hosted_model_and_an_unknown_one_is_404(server):
    status, answer = server.infer(image=b64(DEMO_IMAGES[0]), modelName="nobody", visualize=False)
    assert status == 404 and answer["errorCode"] == 404  # as every door: not found
    assert answer["errorMsg"].startswith("no model 'nobody' on this server")
    status, answer = server.infer(image=b64(DEMO_IMAGES[0]), modelVersion="7", visualize=False)
    assert status == 404 and "has no version '7' loaded (loaded: 1)" in answer["errorMsg"]
    models = server.http.get("/models").json()
    assert [m["name"] for m in models["models"]] == ["pyml-demo-digits_ML"] and models["models"][0]["default"]
    assert models["metricsPort"] == server.metrics_port
    status, answer = server.infer(image=b64(DEMO_IMAGES[0]), modelName="pyml-demo-digits_ML", visualize=False)
    assert status == 200 and answer["result"]["categories"]


def test_the_page_and_the_docs_are_served_from_the_package(server):
    page = server.http.get("/")
    assert page.status_code == 200 and 'src="/static/app.js"' in page.text
    for asset in ("/static/app.js", "/static/style.css", "/static/favicon.svg"):
        assert server.http.get(asset).status_code == 200, asset
    docs = server.http.get("/docs").text
    assert "/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert server.http.get("/swagger/swagger-ui-bundle.js").status_code == 200
    spec = server.http.get("/openapi.json").json()
    infer = spec["paths"]["/multilabel-image-classification"]["post"]["responses"]
    for status in ("200", "413", "422", "500", "503", "504"):
        assert status in infer, status
    assert infer["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "503" in spec["paths"]["/health"]["get"]["responses"]


def test_property_based_requests_get_documented_answers_and_no_5xx(server, tmp_path):
    """schemathesis against the server's own /openapi.json: a bounded run (a few hundred
    generated requests), every answer's status documented, none a server error."""
    if shutil.which("schemathesis") is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis; in pyml[test])")
    run = subprocess.run(
        ["schemathesis", "--no-color", "run", f"http://127.0.0.1:{server.http_port}/openapi.json",
         "--checks", "not_a_server_error,status_code_conformance,response_schema_conformance",
         "--max-examples", "150", "--seed", "1", "--workers", "1",
         "--suppress-health-check", "all", "--request-timeout", "60"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    generated = [int(n) for n in re.findall(r"(\d+) generated", run.stdout)]
    print(run.stdout[-1500:])
    assert sum(generated) >= 200, run.stdout[-2000:]
