"""What a hostile caller can and cannot make pyml do: the server never fetches a URL
or opens a path named in a request, TLS and the bearer token hold, and saving
results never writes outside the folder it was given, whatever the input's name."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import grpc
import httpx
import pytest
from bad_inputs import DEMO_IMAGES
from serving_harness import RunningServer, make_certificate

import pyml
from pyml.errors import ServiceError
from pyml.results import MultiLabelResult
from pyml.serving import Client
from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc


@pytest.fixture(scope="module")
def server():
    with RunningServer({"digits": pyml.create_pipeline()}) as running:
        yield running


@pytest.fixture(scope="module")
def counting_http_server():
    """An HTTP server on loopback that serves a real picture and counts every request."""
    hits = []
    body = Path(DEMO_IMAGES[0]).read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/digits.jpg", hits
    httpd.shutdown()
    httpd.server_close()


def classify_raw(server, request):
    with grpc.insecure_channel(server.target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Classify(request, timeout=30)
        answers = list(stub.ClassifyStream(iter([request]), timeout=30))
    return info.value, answers[0]


def test_server_never_fetches_urls(server, counting_http_server):
    url, hits = counting_http_server
    for request in (pb.ClassifyRequest(request_id=url, encoded=url.encode()), pb.ClassifyRequest(request_id=url)):
        error, answer = classify_raw(server, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert answer.error.reason in ("unsupported", "empty")
    assert hits == []


def test_server_never_opens_paths_from_requests(server, tmp_path):
    picture = Path(DEMO_IMAGES[0]).resolve()
    for name in (str(picture), f"file://{picture}", "../" * 12 + str(picture).lstrip("/")):
        error, answer = classify_raw(server, pb.ClassifyRequest(request_id=name, encoded=name.encode()))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and answer.error.reason == "unsupported"
        error, answer = classify_raw(server, pb.ClassifyRequest(request_id=name))  # no image at all
        assert answer.error.reason == "empty"


def test_tls_and_the_token_hold(tmp_path):
    """TLS with a token: a client trusting another certificate, one without TLS, and one
    with no token or a wrong one get no answer, on unary calls, model info and streams;
    the right client does."""
    (tmp_path / "server").mkdir()
    (tmp_path / "other").mkdir()
    cert, key = make_certificate(tmp_path / "server")
    other_cert, _ = make_certificate(tmp_path / "other")
    options = {"tls_cert": str(cert), "tls_key": str(key), "token": "s3cret", "http_port": 0}
    with RunningServer({"digits": pyml.create_pipeline()}, **options) as running:
        with Client(running.target, tls_ca=str(other_cert), token="s3cret", timeout=10) as untrusting:
            with pytest.raises(ServiceError, match="UNAVAILABLE"):
                untrusting.model_info()
        with Client(running.target, token="s3cret", timeout=5) as plaintext:
            with pytest.raises(ServiceError, match="UNAVAILABLE"):
                plaintext.model_info()
        for token in (None, "", "wrong", "s3cret ", "S3CRET", "Bearer s3cret"):
            with Client(running.target, tls_ca=str(cert), token=token, timeout=10) as bad:
                with pytest.raises(ServiceError, match="UNAUTHENTICATED"):
                    bad.classify(DEMO_IMAGES[0])
                with pytest.raises(ServiceError, match="UNAUTHENTICATED"):
                    bad.model_info()
                with pytest.raises(ServiceError, match="UNAUTHENTICATED"):
                    list(bad.classify_stream(DEMO_IMAGES[:2]))
        with Client(running.target, tls_ca=str(cert), token="s3cret", timeout=30) as good:
            assert good.classify(DEMO_IMAGES[0])[0].error is None
        # the HTTP port speaks HTTPS with the same certificate, and asks for the same token
        port = running.server.http.port
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        with pytest.raises(httpx.ConnectError):  # a certificate the client does not trust
            httpx.get(f"https://127.0.0.1:{port}/health", verify=str(other_cert), timeout=10)
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=str(cert), timeout=30) as https:
            assert https.get("/health").status_code == 200
            assert https.get("/models").status_code == 401
            assert https.get("/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200


HOSTILE_NAMES = [
    "../../../../tmp/evil.jpg",
    "/etc/passwd",
    "..",
    "a/../../b.png",
    "..\\..\\windows\\evil.jpg",
    "http://host/../../x.jpg?name=../../y",
    "name\x00with-nul.jpg",
    "~/.ssh/authorized_keys",
    "/" + "a" * 5000 + ".jpg",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_save_stays_inside_the_folder(tmp_path, name):
    folder = tmp_path / "out"
    result = MultiLabelResult(name, [1], [0.9], ["one"], image=Path(DEMO_IMAGES[0]).read_bytes())
    for target in (result.save_to_json(folder), result.save_to_img(folder)):
        assert target.resolve().parent == folder.resolve() and target.exists()
        assert len(target.name) < 255
    assert sorted(p.parent for p in tmp_path.rglob("*") if p.is_file()) == [folder, folder]
