"""A server you never restart: a model repository in Triton's layout, loading and
unloading at run time (tritonclient, KServe's HTTP routes, `pyml models`), versions named
per request, poll mode, refusals where control is not allowed, and one answer for an
unknown model from every door. Real servers on 127.0.0.1; versions tell themselves apart
by their thresholds, so every answer says which version gave it."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from serving.test_http_serving import b64
from serving_harness import RunningServer

import pyml
from pyml.errors import ServiceError
from pyml.models import demo_model_dir
from pyml.serving import Client
from pyml.train.calibrate import write_thresholds

triton = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")

DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
PICTURE = Path(DEMO_IMAGES[0]).read_bytes()
THRESHOLDS = {"1": 0.5, "2": 0.02, "3": 0.9}  # each version's threshold for every class


def add_version(repo, version: str, model: str = "digits"):
    folder = repo / model / version
    # as PaddleX exports a model: no ONNX file, so first loads convert (tested below)
    shutil.copytree(demo_model_dir(), folder, ignore=shutil.ignore_patterns("inference.onnx*"))
    write_thresholds(folder, np.full(10, THRESHOLDS[version]))
    return folder


@pytest.fixture(scope="module")
def expected():
    """class ids per picture, per version."""
    scores = np.stack([r.all_scores for r in pyml.create_pipeline()(DEMO_IMAGES)])
    answers = {}
    for version, t in THRESHOLDS.items():
        answers[version] = [sorted(np.nonzero(row > t)[0].tolist(), key=lambda c: (-row[c], c)) for row in scores]
    assert answers["1"] != answers["2"] != answers["3"]
    return answers


def ids(results) -> list[list[int]]:
    return [list(r["class_ids"]) for r in results]


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repository"
    add_version(root, "1")
    return root


def running(repo, **options) -> RunningServer:
    return RunningServer({}, model_repository=str(repo), http_port=0, metrics_port=0, **options)


def test_explicit_mode_loads_swaps_names_versions_and_unloads(repo, expected):
    with running(repo, model_control_mode="explicit") as server, contextlib.ExitStack() as stack:
        http = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{server.server.http.port}", timeout=120))
        index = {(m["name"], m["state"]) for m in http.post("/v2/repository/index").json()}
        assert index == {("digits", "UNAVAILABLE")}  # on disk, not loaded: explicit mode loads on request
        tc = triton.InferenceServerClient(server.target)
        tc.load_model("digits")
        with Client(server.target, timeout=60) as client:
            assert ids(client.classify(DEMO_IMAGES)) == expected["1"]
            add_version(repo, "2")
            tc.load_model("digits")  # returns once version 2 is warm and serving
            assert ids(client.classify(DEMO_IMAGES)) == expected["2"]  # the highest is the default
            assert ids(client.classify(DEMO_IMAGES, version="1")) == expected["1"]  # a request names a version
            assert client.model_info("digits").versions == ["1", "2"]
            # KServe: the version a request names, and the one that answered
            image = triton.InferInput("image", [1], "BYTES")
            image.set_data_from_numpy(np.array([PICTURE], dtype=np.object_))
            assert tc.infer("digits", [image], model_version="1").get_response().model_version == "1"
            assert tc.infer("digits", [image]).get_response().model_version == "2"
            # HTTP: modelVersion, opt-in as modelName is
            body = {"image": b64(DEMO_IMAGES[0]), "visualize": False}
            answer = http.post("/multilabel-image-classification", json={**body, "modelVersion": "1"}).json()
            assert [c["id"] for c in answer["result"]["categories"]] == expected["1"][0]
            # version 1 leaves the disk; a load follows the disk: it is unloaded
            shutil.rmtree(repo / "digits" / "1")
            http.post("/v2/repository/models/digits/load").raise_for_status()
            assert [(m["name"], m["version"], m["state"]) for m in http.post("/v2/repository/index").json()] == [
                ("digits", "2", "READY")
            ]
            with pytest.raises(ServiceError) as gone:
                client.classify(DEMO_IMAGES[0], version="1")
            assert gone.value.code == "NOT_FOUND" and gone.value.reason == "unknown_version"
            response = http.post("/multilabel-image-classification", json={**body, "modelVersion": "1"})
            assert response.status_code == 404
            # unload: the model stays known, unavailable, and says so
            assert http.post("/v2/repository/models/digits/unload").status_code == 200
            assert http.post("/v2/repository/index").json() == [
                {"name": "digits", "version": "", "state": "UNAVAILABLE", "reason": "unloaded"}
            ]
            with pytest.raises(ServiceError) as unloaded:
                client.classify(DEMO_IMAGES[0], model="digits")
            assert unloaded.value.code == "UNAVAILABLE" and unloaded.value.reason == "not_ready"
            tc.load_model("digits")
            assert ids(client.classify(DEMO_IMAGES, model="digits")) == expected["2"]
        metrics = httpx.get(f"http://127.0.0.1:{server.server.metrics_port}/metrics").text
        assert 'pyml_model_loads_total{model="digits",outcome="ok"} 3.0' in metrics
        assert 'pyml_model_unloads_total{model="digits"} 1.0' in metrics


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(repo, expected):
    with running(repo, model_control_mode="explicit", load_model=["*"]) as server:
        broken = repo / "digits" / "2"
        shutil.copytree(demo_model_dir(), broken)
        (broken / "inference.yml").write_text("PostProcess: [not, a, model]\n")
        tc = triton.InferenceServerClient(server.target)
        with pytest.raises(triton.InferenceServerException) as failed:
            tc.load_model("digits")
        assert "inference.yml" in failed.value.message()
        with Client(server.target, timeout=60) as client:
            assert ids(client.classify(DEMO_IMAGES)) == expected["1"]  # still version 1
        assert tc.is_model_ready("digits")


def test_pyml_models_lists_loads_and_unloads(repo):
    with running(repo, model_control_mode="explicit") as server:

        def models(*args):
            return subprocess.run(
                [sys.executable, "-m", "pyml", "models", *args, "--target", server.target],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip

        listed = models("list")
        assert listed.returncode == 0 and "digits" in listed.stdout and "UNAVAILABLE (not loaded)" in listed.stdout
        loaded = models("load", "digits")
        assert loaded.returncode == 0 and "digits: loaded" in loaded.stderr
        rows = [line.split() for line in loaded.stdout.splitlines()[1:]]
        assert ["digits", "1", "READY"] in rows  # beside PaddleX's HPS model, which every server has
        unloaded = models("unload", "digits")
        assert unloaded.returncode == 0 and "UNAVAILABLE (unloaded)" in unloaded.stdout
        missing = models("load", "nobody")
        assert missing.returncode == 2 and missing.stderr.strip().startswith(
            "pyml: error: NOT_FOUND: no model 'nobody'"
        )


@pytest.mark.parametrize("name", ["../outside", "..", "digits/1", ".hidden"])
def test_a_name_outside_the_repository_is_refused(repo, tmp_path, name):
    outside = tmp_path / "outside"
    shutil.copytree(repo / "digits", outside)
    (repo / "link").symlink_to(outside, target_is_directory=True)
    with running(repo, model_control_mode="explicit") as server:
        tc = triton.InferenceServerClient(server.target)
        for bad in (name, "link"):
            with pytest.raises(triton.InferenceServerException) as refused:
                tc.load_model(bad)
            assert refused.value.status() == "StatusCode.NOT_FOUND", bad
        assert "outside the repository" in refused.value.message()


def test_control_is_refused_where_it_should_be(repo):
    with running(repo) as server:  # none: the repository is read once
        tc = triton.InferenceServerClient(server.target)
        with pytest.raises(triton.InferenceServerException) as refused:
            tc.load_model("digits")
        assert refused.value.status() == "StatusCode.FAILED_PRECONDITION"
        assert "--model_control_mode none" in refused.value.message()
        response = httpx.post(f"http://127.0.0.1:{server.server.http.port}/v2/repository/models/digits/unload")
        assert response.status_code == 403 and "--model_control_mode explicit" in response.json()["error"]
    # explicit mode on an address others reach, without a token: refused at start, one line
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "serve", "--model_repository", str(repo), "--model_control_mode", "explicit",
         "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "--token_file" in run.stderr and "--allow_model_control" in run.stderr


def test_with_a_token_control_calls_need_it(repo):
    with running(repo, model_control_mode="explicit", token="s3cret") as server:
        tc = triton.InferenceServerClient(server.target)
        with pytest.raises(triton.InferenceServerException) as refused:
            tc.load_model("digits")
        assert refused.value.status() == "StatusCode.UNAUTHENTICATED"
        tc.load_model("digits", headers={"authorization": "Bearer s3cret"})
        url = f"http://127.0.0.1:{server.server.http.port}/v2/repository/models/digits/unload"
        assert httpx.post(url).status_code == 401
        assert httpx.post(url, headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_poll_mode_follows_the_disk(repo, expected):
    with running(repo, model_control_mode="poll", repository_poll_s=0.2) as server, Client(server.target) as client:
        assert ids(client.classify(DEMO_IMAGES)) == expected["1"]
        add_version(repo, "2")
        deadline = time.monotonic() + 120
        while ids(client.classify(DEMO_IMAGES)) != expected["2"]:
            assert time.monotonic() < deadline, "poll mode did not pick up version 2"
            time.sleep(0.1)
        (repo / "digits" / "model.yaml").write_text("versions: all\ndefault_version: 1\n")  # a policy names the default
        while ids(client.classify(DEMO_IMAGES)) != expected["1"]:
            assert time.monotonic() < deadline, "poll mode did not apply the policy"
            time.sleep(0.1)
        assert ids(client.classify(DEMO_IMAGES, version="2")) == expected["2"]


def test_an_unknown_model_is_not_found_through_every_door(repo):
    with running(repo) as server, Client(server.target, timeout=60) as client:
        for call in (
            lambda: client.classify(DEMO_IMAGES[0], model="nobody"),
            lambda: client.model_info("nobody"),
        ):
            with pytest.raises(ServiceError) as missing:
                call()
            assert missing.value.code == "NOT_FOUND" and "no model 'nobody'" in str(missing.value)
        # a stream: a per-item NOT_FOUND, and the stream goes on
        requests = [DEMO_IMAGES[0]]
        results = list(client.classify_stream(requests, model="nobody")) + list(client.classify_stream(requests))
        assert isinstance(results[0].error, ServiceError) and results[0].error.code == "NOT_FOUND"
        assert results[1].error is None
        tc = triton.InferenceServerClient(server.target)
        image = triton.InferInput("image", [1], "BYTES")
        image.set_data_from_numpy(np.array([PICTURE], dtype=np.object_))
        for call in (
            lambda: tc.infer("nobody", [image]),
            lambda: tc.get_model_metadata("nobody"),
            lambda: tc.get_model_config("nobody"),
            lambda: tc.get_inference_statistics("nobody"),
        ):
            with pytest.raises(triton.InferenceServerException) as missing:
                call()
            assert missing.value.status() == "StatusCode.NOT_FOUND"
        answer = httpx.post(
            f"http://127.0.0.1:{server.server.http.port}/multilabel-image-classification",
            json={"image": b64(DEMO_IMAGES[0]), "modelName": "nobody"},
        )
        assert answer.status_code == 404 and answer.json()["errorCode"] == 404
        # encoded bytes are an input of the client, as the service takes them
        assert client.classify(PICTURE)[0]["class_ids"]
        folder = str(Path(DEMO_IMAGES[0]).parent)  # bytes beside a folder: every picture of the folder
        assert len(client.classify([PICTURE, folder])) == 1 + len(DEMO_IMAGES)
        assert len(list(client.classify_stream(iter([PICTURE, folder])))) == 1 + len(DEMO_IMAGES)


def test_first_load_work_runs_in_a_low_priority_child_and_fills_the_caches(repo, tmp_path, monkeypatch):
    from pyml.serving import prepare

    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "cache"))
    options = {"backend": "onnxruntime", "batch_size": 4}
    assert prepare.prepare_in_background(repo / "digits" / "1", options)
    assert list((tmp_path / "cache").rglob("*.onnx"))  # the conversion happened there, for the server to find
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "inference.yml").write_text("not: a model\n")
    assert not prepare.prepare_in_background(broken, options)  # the server's own load says why
