"""Who can reach a server: where it listens (said in the ready line and --help), and the
token. `pyml serve --token_file` guards every door: PaddleX's HTTP API, `/models` and any other
HTTP route (401 in PaddleX's envelope with `WWW-Authenticate: Bearer`), pyml's gRPC service,
KServe v2 and the HPS model (UNAUTHENTICATED), each tried with no token, a wrong one and the
right one on a real `pyml serve` process. Health, the page's files and the docs stay open."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from serving.test_http_serving import DEMO_IMAGES, HttpServer, b64

from pyml.errors import ServiceError
from pyml.serving.client import Client

TOKEN = "s3cret-token"
WRONG = ("", "wrong", TOKEN + "x", TOKEN.upper(), TOKEN[:-1])


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    token_file = tmp_path_factory.mktemp("token") / "token.txt"
    token_file.write_text(TOKEN + "\n")
    running = HttpServer("--token_file", str(token_file), pipelines=("digits=pyml_demo",))
    yield running
    running.stop()


def _headers(token):
    return {} if token is None else {"Authorization": f"Bearer {token}".strip()}


def _refused(response, sent) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"logId", "errorCode", "errorMsg"} and body["errorCode"] == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) == (sent is not None)


@pytest.mark.parametrize("token", [None, *WRONG])
def test_http_routes_refuse_without_the_right_token(guarded, token):
    image = b64(DEMO_IMAGES[0])
    http = guarded.http
    _refused(http.post("/multilabel-image-classification", json={"image": image}, headers=_headers(token)), token)
    _refused(http.get("/models", headers=_headers(token)), token)
    # a route the server does not have is refused too: the gate lists what is open, not what is closed
    _refused(http.get("/v2/repository/index", headers=_headers(token)), token)
    # a raw scheme, not Bearer
    if token:
        response = http.get("/models", headers={"Authorization": f"Basic {token}"})
        assert response.status_code == 401


def test_http_routes_answer_with_the_right_token(guarded):
    http = guarded.http
    model = http.get("/models", headers=_headers(TOKEN)).json()["models"][0]["name"]
    before = guarded.metric("pyml_requests_total", code="401", door="http", model=model)
    http.get("/models")  # counted as a refusal
    assert guarded.metric("pyml_requests_total", code="401", door="http", model=model) == before + 1
    response = http.post(
        "/multilabel-image-classification",
        json={"image": b64(DEMO_IMAGES[0]), "visualize": False},
        headers=_headers(TOKEN),
    )
    assert response.status_code == 200 and response.json()["errorCode"] == 0
    assert response.json()["result"]["categories"]
    # an oversized body from a caller without the token is refused for the token, not read
    huge = b"x" * (3 * 1024 * 1024)
    assert http.post("/multilabel-image-classification", content=huge).status_code == 401
    assert http.post("/multilabel-image-classification", content=huge, headers=_headers(TOKEN)).status_code == 413


def test_health_the_page_and_the_docs_stay_open(guarded):
    http = guarded.http
    for path in ("/health", "/", "/static/app.js", "/static/style.css", "/docs", "/openapi.json"):
        assert http.get(path).status_code == 200, path
    schema = http.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerToken"] == {"type": "http", "scheme": "bearer"}
    infer = schema["paths"]["/multilabel-image-classification"]["post"]
    assert infer["security"] == [{"bearerToken": []}]
    assert "401" in infer["responses"] and "401" in schema["paths"]["/models"]["get"]["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]
    # metrics are not guarded (docs/serving.md says why)
    assert httpx.get(f"http://127.0.0.1:{guarded.metrics_port}/metrics", timeout=10).status_code == 200


def test_an_open_server_documents_no_scheme():
    running = HttpServer()
    try:
        schema = running.http.get("/openapi.json").json()
        assert "securitySchemes" not in schema.get("components", {})
        assert running.http.get("/models").status_code == 200
    finally:
        running.stop()


@pytest.mark.parametrize("token", [None, *WRONG[1:]])
def test_grpc_service_refuses_without_the_right_token(guarded, token):
    with Client(f"127.0.0.1:{guarded.grpc_port}", token=token, timeout=30) as client:
        with pytest.raises(ServiceError) as refused:
            client.classify(DEMO_IMAGES[0])
        assert refused.value.code == "UNAUTHENTICATED"
    with Client(f"127.0.0.1:{guarded.grpc_port}", token=TOKEN, timeout=30) as client:
        assert client.classify(DEMO_IMAGES[0])[0]["class_ids"]


KSERVE_SCRIPT = """
import json, sys
import numpy as np
import tritonclient.grpc as triton

target, token, image_path, hps_body = sys.argv[1:5]
headers = {"authorization": f"Bearer {token}"} if token != "-" else None
client = triton.InferenceServerClient(target)
out = {}
image = triton.InferInput("image", [1], "BYTES")
image.set_data_from_numpy(np.array([open(image_path, "rb").read()], dtype=np.object_))
hps = triton.InferInput("input", [1, 1], "BYTES")
hps.set_data_from_numpy(np.array([[hps_body]], dtype=np.object_))
for name, call in [("infer", lambda: client.infer("digits", [image], headers=headers).as_numpy("scores").shape),
                   ("hps", lambda: json.loads(client.infer("multilabel-image-classification", [hps],
                                                           headers=headers).as_numpy("output")[0, 0])["errorCode"]),
                   ("index", lambda: len(client.get_model_repository_index(headers=headers).models))]:
    try:
        out[name] = str(call())
    except triton.InferenceServerException as exc:
        out[name] = exc.status()
print(json.dumps(out))
"""


@pytest.mark.parametrize("token", [None, "wrong", TOKEN])
def test_kserve_and_hps_refuse_without_the_right_token(guarded, token):
    pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")
    hps_body = json.dumps({"image": b64(DEMO_IMAGES[0]), "visualize": False})
    proc = subprocess.run(
        [sys.executable, "-c", KSERVE_SCRIPT, f"127.0.0.1:{guarded.grpc_port}", token or "-", DEMO_IMAGES[0], hps_body],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    if token == TOKEN:
        assert out == {"infer": "(1, 10)", "hps": "0", "index": "2"}
    else:
        assert out == dict.fromkeys(("infer", "hps", "index"), "StatusCode.UNAUTHENTICATED")


def test_the_ready_line_says_where_each_door_listens(guarded):
    line = guarded.proc.stdout.readline().strip()
    assert line == (
        f"pyml: serving digits: gRPC on 127.0.0.1:{guarded.grpc_port}, "
        f"HTTP on http://127.0.0.1:{guarded.http_port}/, "
        f"metrics on http://127.0.0.1:{guarded.metrics_port}/metrics, "
        "from this machine only (--host 0.0.0.0 for others)"
    )


def test_every_serve_flag_says_what_it_does_and_its_default():
    from pyml.cli import command_parser
    from pyml.serving.options import ServerOptions

    parser = command_parser("serve")
    for action in parser._actions:
        assert action.help, action.option_strings
        if action.default not in (None, False, "==SUPPRESS==") and action.dest != "help":
            assert f"(default: {action.default}" in action.help, action.option_strings
    defaults = ServerOptions()
    args = parser.parse_args(["--pipeline", "pyml_demo"])
    assert (args.host, args.max_batch_size, args.max_queue_delay_ms) == ("127.0.0.1", defaults.max_batch_size, 5.0)
    assert args.max_message_mb * 2**20 == defaults.max_message_bytes
