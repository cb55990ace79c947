"""TLS and bearer-token auth on a real server, and the `pyml client` command."""

import subprocess
import sys

import pytest
from serving_harness import RunningServer, make_certificate
from test_serving import DEMO_IMAGES

from pyml.errors import ServiceError
from pyml.serving import Client


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_with_token(demo_pipeline, certificate):
    cert, key = certificate
    server = RunningServer({"digits": demo_pipeline}, tls_cert=str(cert), tls_key=str(key), token="s3cret")
    try:
        with Client(server.target, tls_ca=str(cert), token="s3cret", timeout=30) as good:
            assert good.classify(DEMO_IMAGES[0])[0].error is None
        for token in (None, "wrong"):
            with Client(server.target, tls_ca=str(cert), token=token, timeout=30) as bad:
                with pytest.raises(ServiceError, match="UNAUTHENTICATED"):
                    bad.model_info()
                with pytest.raises(ServiceError, match="UNAUTHENTICATED"):
                    list(bad.classify_stream(DEMO_IMAGES[:2]))
        with Client(server.target, token="s3cret", timeout=5) as plaintext:  # no TLS: refused
            with pytest.raises(ServiceError, match="UNAVAILABLE"):
                plaintext.model_info()
    finally:
        server.stop()


def test_pyml_client_command(demo_pipeline, tmp_path):
    server = RunningServer({"digits": demo_pipeline})
    try:
        (tmp_path / "bad.jpg").write_bytes(b"junk")
        for extra in ([], ["--stream"]):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyml.cli",
                    "client",
                    "--target",
                    server.target,
                    "--input",
                    DEMO_IMAGES[0],
                    *extra,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.startswith(f"{{'img_path': '{DEMO_IMAGES[0]}'")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pyml.cli",
                "client",
                "--target",
                server.target,
                "--input",
                str(tmp_path),
                "--stream",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1 and "bad.jpg" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        server.stop()
