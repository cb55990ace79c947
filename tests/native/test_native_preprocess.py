"""The batch entry point against the full reference path (decode, resize, normalize, CHW)."""

import cv2
import images
import numpy as np
import pytest
import reference

from pyml import _native
from pyml.errors import InputError


@pytest.fixture(scope="module")
def exact():
    return _native.Preprocessor(_native.PreprocessSpec(), threads=2)


def test_batch_equals_reference_bit_for_bit(exact, photos):
    bufs = [images.jpeg(rgb) for rgb in photos.values()]
    batch = exact.run(bufs)
    assert batch.shape == (len(bufs), 3, 448, 448) and batch.dtype == np.float32
    for i, buf in enumerate(bufs):
        assert np.array_equal(batch[i], reference.preprocess(buf))


def test_arrays_are_taken_as_bgr(exact, photos):
    rgb = next(iter(photos.values()))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    out = exact.run([bgr, bgr[:, ::2]])  # the second one is not contiguous
    assert np.array_equal(out[0], reference.preprocess(bgr))
    assert np.array_equal(out[1], reference.preprocess(np.ascontiguousarray(bgr[:, ::2])))


def test_grey_array_is_expanded(exact):
    grey = images.gradient(50, 40)[:, :, 0]
    out = exact.run([grey])
    assert np.array_equal(out[0], reference.preprocess(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)))


def test_already_target_size_is_not_resampled(exact):
    rgb = images.gradient(448, 448)
    buf = images.pil_bytes(images.Image.fromarray(rgb), "PNG")
    assert np.array_equal(exact.run([buf])[0], reference.normalize_chw(rgb))


def test_custom_normalization_and_cv2_filter():
    spec = _native.PreprocessSpec(
        width=224, height=160, filter="cv2_linear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), scale=1 / 255
    )
    buf = images.jpeg(images.gradient(500, 300))
    out = _native.Preprocessor(spec, threads=1).run([buf])
    ref = reference.normalize_chw(reference.resize_cv(reference.decode(buf), 224, 160), mean=(0.5,) * 3, std=(0.5,) * 3)
    assert out.shape == (1, 3, 160, 224)
    assert np.abs(out[0] - ref).max() <= 1 / 255 / 0.5 + 1e-6


def test_resize_short_batches_equal_sizes_and_refuses_mixed():
    spec = _native.PreprocessSpec(resize_mode="short", short_side=64)
    pre = _native.Preprocessor(spec, threads=2)
    a, b = images.jpeg(images.gradient(200, 100)), images.jpeg(images.gradient(400, 200, seed=2))
    out = pre.run([a, b])
    assert out.shape == (2, 3, 64, 128)
    assert np.array_equal(out[1], reference.normalize_chw(reference.resize_pil(reference.decode(b), 128, 64)))
    with pytest.raises(ValueError, match="different sizes"):
        pre.run([a, images.jpeg(images.gradient(100, 100))])


def test_thread_counts_give_identical_tensors(photos):
    bufs = [images.jpeg(rgb) for rgb in photos.values()] * 3
    one = _native.Preprocessor(_native.PreprocessSpec(), threads=1).run(bufs)
    many = _native.Preprocessor(_native.PreprocessSpec(), threads=4).run(bufs)
    assert np.array_equal(one, many)


def test_fast_mode_is_close_to_exact_on_large_photos(photos):
    spec = _native.PreprocessSpec(decode_mode="fast")
    fast = _native.Preprocessor(spec, threads=2)
    for rgb in photos.values():
        big = cv2.resize(rgb, (rgb.shape[1] * 4, rgb.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
        buf = images.jpeg(big)
        diff = np.abs(fast.run([buf])[0] - reference.preprocess(buf)) * 0.226 * 255  # in grey levels
        assert diff.mean() < 3.0, diff.mean()


def test_empty_batch(exact):
    assert exact.run([]).shape == (0, 3, 448, 448)


def test_spec_validation():
    with pytest.raises(ValueError, match="std"):
        _native.PreprocessSpec(std=(0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="short_side"):
        _native.PreprocessSpec(resize_mode="short")
    with pytest.raises(ValueError, match="decode mode"):
        _native.PreprocessSpec(decode_mode="turbo")


def test_bad_items_fail_alone(exact, photos):
    good = images.jpeg(next(iter(photos.values())))
    truncated = good[: len(good) // 2]
    batch = [
        good,
        b"",
        truncated,
        b"GIF89a....",
        good,
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 2), np.uint8),
        "a path",
    ]
    tensor, errors = exact.run(batch, errors="return")
    reasons = {index: reason for index, reason, _ in errors}
    assert reasons == {
        1: "empty",
        2: "truncated",
        3: "unsupported",
        5: "invalid_array",
        6: "invalid_array",
        7: "unsupported",
    }
    expected = reference.preprocess(good)
    assert np.array_equal(tensor[0], expected) and np.array_equal(tensor[4], expected)
    for index in reasons:
        assert not tensor[index].any()
    with pytest.raises(InputError, match="item 1: empty") as info:
        exact.run(batch)
    assert info.value.reason == "empty" and info.value.index == 1


def test_resize_short_refuses_a_strip_that_would_grow_past_the_pixel_limit():
    """Found by the fuzzer: 1x16397 at short side 256 asked for a 12 GB tensor."""
    pre = _native.Preprocessor(_native.PreprocessSpec(resize_mode="short", short_side=256), threads=1)
    strip = cv2.imencode(".png", np.full((1, 4000, 3), 128, np.uint8))[1].tobytes()
    with pytest.raises(InputError) as info:
        pre.run([strip])
    assert info.value.reason == "too_large" and "4000x1" in str(info.value)
