"""The pipeline end to end on a PaddleX-layout export: real Paddle Inference, real images."""

import cv2
import images
import numpy as np
import pytest
import reference

import pyml
from pyml.errors import ConfigError, InputError, ModelError


def paddle_scores(model_dir, tensor):
    """A direct Paddle Inference run, independent of pyml's backend."""
    from paddle import inference

    config = inference.Config(str(model_dir / "inference.json"), str(model_dir / "inference.pdiparams"))
    config.disable_gpu()
    config.enable_new_ir(True)
    config.enable_new_executor()
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(tensor.shape))
    handle.copy_from_cpu(tensor)
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


@pytest.fixture(scope="module")
def photo_files(photos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name, rgb in photos.items():
        (folder / f"{name}.jpg").write_bytes(images.jpeg(rgb))
    return sorted(folder.iterdir())


def test_predict_equals_direct_paddle_inference(lcnet_pipeline, lcnet_export, photo_files):
    results = list(lcnet_pipeline.predict([str(p) for p in photo_files]))
    tensor = np.stack([reference.preprocess(p.read_bytes()) for p in photo_files])
    expected = reference.postprocess(paddle_scores(lcnet_export, tensor), 0.5)
    assert [r.input_path for r in results] == [str(p) for p in photo_files]
    for result, (ids, scores) in zip(results, expected):
        assert result.class_ids == ids
        np.testing.assert_allclose(result.scores, np.around(scores, 5), atol=2e-5)
        assert result.label_names == [lcnet_pipeline.labels[i] for i in ids]
        assert all(round(s, 5) == s for s in result.scores)


def test_batch_size_does_not_change_answers(lcnet_pipeline, photo_files):
    one = list(lcnet_pipeline.predict([str(p) for p in photo_files], batch_size=1))
    many = list(lcnet_pipeline.predict([str(p) for p in photo_files], batch_size=3))
    for a, b in zip(one, many):
        assert a.class_ids == b.class_ids
        np.testing.assert_allclose(a.scores, b.scores, atol=2e-5)


def test_every_input_kind(lcnet_pipeline, photo_files, tmp_path):
    path = photo_files[0]
    bgr = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "copy.png").write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
    results = list(lcnet_pipeline.predict([str(path), path, bgr, {"img": str(path)}, str(tmp_path)]))
    assert [r.input_path for r in results] == [
        str(path),
        str(path),
        "<ndarray 0>",
        str(path),
        str(tmp_path / "nested" / "copy.png"),
    ]
    first = results[0]
    for other in results[1:]:  # PNG and array carry the same pixels as the decoded JPEG
        assert other.class_ids == first.class_ids
        np.testing.assert_allclose(other.scores, first.scores, atol=2e-5)


def test_per_class_threshold_applies_per_class_not_per_batch_position(lcnet_pipeline, photo_files):
    inputs = [str(p) for p in photo_files]
    plain = list(lcnet_pipeline.predict(inputs, threshold=0.0, batch_size=5))
    per_class = np.linspace(0.2, 0.8, 80)
    results = list(lcnet_pipeline.predict(inputs, threshold=per_class.tolist(), batch_size=5))
    for base, result in zip(plain, results):
        scores = dict(zip(base.class_ids, base.scores))
        expected = [c for c in base.class_ids if scores[c] > np.float32(per_class[c])]
        assert result.class_ids == expected
    # PaddleX 3.7.2 would have used entry i (0.2, 0.206, ...) for every class of image i.
    by_position = [
        [c for c in b.class_ids if dict(zip(b.class_ids, b.scores))[c] > per_class[i]] for i, b in enumerate(plain)
    ]
    assert [r.class_ids for r in results] != by_position


def test_threshold_precedence(lcnet_export, photo_files):
    inputs = [str(p) for p in photo_files]
    from_yml = pyml.create_pipeline(model_dir=str(lcnet_export), model_name="x")  # yml: 0.5
    from_config = pyml.create_pipeline(model_dir=str(lcnet_export), model_name="x", threshold=0.3)
    scores = [dict(zip(r.class_ids, r.scores)) for r in from_yml.predict(inputs, threshold=0.0)]
    for expected_t, results in (
        (0.5, from_yml.predict(inputs)),
        (0.3, from_config.predict(inputs)),
        (0.7, from_config.predict(inputs, threshold=0.7)),
    ):
        for s, r in zip(scores, results):
            assert r.class_ids == [c for c in s if s[c] > expected_t]


def test_dict_threshold_and_top_k(lcnet_pipeline, photo_files):
    result = next(lcnet_pipeline.predict(str(photo_files[0]), threshold={"default": 0.0, "3": 1.0}, top_k=5))
    assert len(result.class_ids) == 5 and 3 not in result.class_ids
    assert result.scores == sorted(result.scores, reverse=True)


def test_bad_images_raise_or_come_back_as_results(lcnet_pipeline, photo_files, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(photo_files[0].read_bytes()[:500])
    inputs = [str(photo_files[0]), str(bad), str(tmp_path / "missing.png"), str(photo_files[1])]
    results = list(lcnet_pipeline.predict(inputs, on_error="return"))
    assert [r.error.reason if r.error else None for r in results] == [None, "truncated", "not_found", None]
    assert "bad.jpg" in str(results[1].error)
    with pytest.raises(InputError, match=r"bad\.jpg"):
        list(lcnet_pipeline.predict(inputs))
    with pytest.raises(InputError):
        list(lcnet_pipeline.predict(np.zeros((5, 5), np.float32)))


def test_argument_errors(lcnet_pipeline):
    with pytest.raises(ConfigError, match="threshold"):
        lcnet_pipeline.predict("x.jpg", threshold=[0.5] * 3)
    with pytest.raises(ConfigError, match="top_k"):
        lcnet_pipeline.predict("x.jpg", top_k=-1)
    with pytest.raises(ConfigError, match="batch_size"):
        lcnet_pipeline.predict("x.jpg", batch_size=0)
    with pytest.raises(ConfigError, match="on_error"):
        lcnet_pipeline.predict("x.jpg", on_error="ignore")


def test_label_count_must_match_model_output(lcnet_export, tmp_path):
    for name in ("inference.json", "inference.pdiparams"):
        (tmp_path / name).symlink_to(lcnet_export / name)
    yml = (lcnet_export / "inference.yml").read_text().replace("  - toothbrush\n", "")
    (tmp_path / "inference.yml").write_text(yml)
    with pytest.raises(ModelError, match="79 names but the model outputs 80"):
        pyml.create_pipeline(model_dir=str(tmp_path), model_name="x")


def test_devices_that_are_not_here_fail_clearly(lcnet_export):
    import paddle

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this paddle has CUDA; the error path is for CPU-only builds")
    with pytest.raises(pyml.BackendError, match="no CUDA support"):
        pyml.create_pipeline(model_dir=str(lcnet_export), model_name="x", device="gpu:0")
    with pytest.raises(pyml.BackendError, match="XPU"):
        pyml.create_pipeline(model_dir=str(lcnet_export), model_name="x", device="xpu:0")
    with pytest.raises(ConfigError, match="unknown device"):
        pyml.create_pipeline(model_dir=str(lcnet_export), model_name="x", device="quantum")


def test_predict_takes_any_iterable_lazily():
    """A generator is the natural input for a stream; it is read as the batches need it."""
    import pyml
    from pyml.models import demo_model_dir

    paths = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
    pipeline = pyml.create_pipeline(batch_size=2)
    expected = [r["class_ids"] for r in pipeline.predict(paths)]
    taken = []

    def feed():
        for path in paths:
            taken.append(path)
            yield path

    results = pipeline.predict(feed())
    first = next(iter(results))
    assert first["class_ids"] == expected[0] and len(taken) < len(paths)  # lazily
    assert [first["class_ids"], *(r["class_ids"] for r in results)] == expected
    assert [r["class_ids"] for r in pipeline.predict(iter(paths[:3]))] == expected[:3]


class _Watched:
    """Wraps a pipeline part; `on_call(*args)` runs before each call of the real one."""

    def __init__(self, real, on_call, **attributes):
        self._real, self._on_call = real, on_call
        self.__dict__.update(attributes)

    def __call__(self, *args, **kwargs):
        self._on_call(*args)
        return self._real(*args, **kwargs)

    def run(self, *args, **kwargs):
        self._on_call(*args)
        return self._real.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("overlap", [True, False])
def test_next_batch_is_read_during_inference_and_decoded_there_only_if_the_backend_allows(overlap):
    """Backend.overlap_preprocess: True decodes batch 2 while batch 1 runs; False only reads
    it then and decodes after (OpenVINO/ONNX Runtime fill every core). Events, not timing:
    the first inference waits for what should happen meanwhile, with a timeout."""
    import threading

    from pyml.models import demo_model_dir

    paths = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))[:4]
    pipeline = pyml.create_pipeline(batch_size=2, backend="paddle")
    expected = [r["class_ids"] for r in pipeline.predict(paths)]
    read, decoding = threading.Event(), threading.Event()
    log = []

    def feed():
        for i, path in enumerate(paths):
            if i == 2:
                read.set()  # the helper pulls the second batch's first picture
            yield path

    def on_preprocess(items):
        log.append("preprocess")
        if len(log) > 1:
            decoding.set()

    def on_inference(tensor):
        if "infer" not in log:  # the first batch: what happens alongside it?
            assert read.wait(30), "the second batch was not read during the first inference"
            assert decoding.wait(3 if overlap else 0.3) == overlap
        log.append("infer")

    pipeline._preprocessor = _Watched(pipeline._preprocessor, on_preprocess)
    pipeline._backend = _Watched(pipeline._backend, on_inference, overlap_preprocess=overlap)
    assert [r["class_ids"] for r in pipeline.predict(feed())] == expected
    order = ["preprocess", "preprocess", "infer", "infer"] if overlap else ["preprocess", "infer"] * 2
    assert log == order
