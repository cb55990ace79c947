"""Labels a person wants, through the server's doors: pyml's gRPC service (request fields,
each label's category in the answer) and PaddleX's HTTP API (opt-in fields), on top of
the server's own filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving.test_http_serving import DEMO_IMAGES, HttpServer, b64
from serving_harness import RunningServer

import pyml
from pyml.catalogue import COCO_CATEGORY_OF
from pyml.errors import ServiceError
from pyml.serving import Client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(lcnet_export):
    lcnet = pyml.create_pipeline(model_dir=str(lcnet_export), exclude_labels="person")  # the server's own filter
    with RunningServer({"digits": pyml.create_pipeline("pyml_demo"), "lcnet": lcnet}) as running:
        yield running


def test_grpc_request_filters_on_top_of_the_servers_and_answers_carry_categories(server):
    with Client(server.target, timeout=60) as client:
        (everything,) = client.classify(DEMO_IMAGES[0], model="lcnet", threshold=0.0)
        assert "person" not in everything.label_names and len(everything.label_names) == 79
        assert everything.categories == [COCO_CATEGORY_OF[n] for n in everything.label_names]
        (animals,) = client.classify(DEMO_IMAGES[0], model="lcnet", threshold=0.0, include_categories=["animal"])
        assert set(animals.categories) == {"animal"} and len(animals.label_names) == 10
        streamed = list(
            client.classify_stream(DEMO_IMAGES[:2], model="digits", threshold=0.0, exclude_labels=["one", "two"])
        )
        assert all(len(r.label_names) == 8 and not {"one", "two"} & set(r.label_names) for r in streamed)


def test_an_unknown_name_is_invalid_argument_listing_the_valid_ones(server):
    with Client(server.target, timeout=60) as client:
        with pytest.raises(ServiceError, match="include_labels: unknown name 'eleven'; valid: eight") as caught:
            client.classify(DEMO_IMAGES[0], model="digits", include_labels=["eleven"])
        assert caught.value.code == "INVALID_ARGUMENT"
        with pytest.raises(TypeError, match="label filters are include_labels"):
            client.classify(DEMO_IMAGES[0], include_label=["one"])


def test_http_opt_in_fields():
    server = HttpServer()
    try:
        plain = server.infer(image=b64(DEMO_IMAGES[0]))[1]
        assert all(set(c) == {"id", "name", "score"} for c in plain["result"]["categories"])  # as PaddleX answers
        body = {"image": b64(DEMO_IMAGES[0]), "threshold": 0.0, "excludeLabels": ["one"], "returnCategories": True}
        status, answer = server.infer(**body)
        names = [c["name"] for c in answer["result"]["categories"]]
        assert status == 200 and len(names) == 9 and "one" not in names
        assert all(c["category"] == "" for c in answer["result"]["categories"])  # the demo's labels have none
        status, bad = server.infer(**body, includeCategories=["animal"])
        assert status == 422 and "include_categories: unknown name 'animal'" in bad["errorMsg"]
    finally:
        server.stop()


def test_display_names_through_grpc_kserve_classification_and_http(tmp_path):
    triton = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")
    import numpy as np

    names = tmp_path / "names.tsv"
    names.write_text("1\t一\neight\t八\nnine\t九\n", encoding="utf-8")
    named = pyml.create_pipeline("pyml_demo", label_names=str(names), exclude_labels="two")
    (plain,) = pyml.create_pipeline("pyml_demo").predict(DEMO_IMAGES[0], threshold=0.0)
    with RunningServer({"named": named}) as running:
        with Client(running.target, timeout=60) as client:
            (result,) = client.classify(DEMO_IMAGES[0], threshold=0.0)
            assert "two" not in result.label_names and len(result.label_names) == 9
            display = {1: "一", 8: "八", 9: "九"}
            assert result.label_names == [display.get(i, plain.label_names[plain.class_ids.index(i)])
                                          for i in result.class_ids]  # fmt: skip
            assert client.model_info().labels[8] == "八"
        kserve = triton.InferenceServerClient(running.target)
        image = triton.InferInput("image", [1], "BYTES")
        image.set_data_from_numpy(np.array([Path(DEMO_IMAGES[0]).read_bytes()], dtype=np.object_))
        top = kserve.infer("named", [image], outputs=[triton.InferRequestedOutput("scores", class_count=10)])
        rows = [s.decode().split(":") for s in top.as_numpy("scores")[0]]
        assert len(rows) == 9 and all(index != "2" for _, index, _ in rows)  # the filtered class is not ranked
        assert all(label == display.get(int(index), label) for _, index, label in rows)
    server = HttpServer("--label_names", str(names))
    try:
        status, answer = server.infer(image=b64(DEMO_IMAGES[0]), threshold=0.0)
        by_id = {c["id"]: c["name"] for c in answer["result"]["categories"]}
        assert status == 200 and by_id[8] == "八" and by_id[1] == "一" and by_id[0] == "zero"
    finally:
        server.stop()
