"""Native resize against Pillow BILINEAR and OpenCV INTER_LINEAR, bit for bit."""

import os
import subprocess
import sys
from pathlib import Path

import images
import numpy as np
import pytest
import reference

from pyml import _native

SIZES = [(448, 448), (1, 1), (3, 500), (500, 3), (224, 224), (640, 427), (1000, 800), (97, 301)]


@pytest.mark.parametrize("size", SIZES)
def test_pil_bilinear_matches_pillow_on_photos(photos, size):
    for rgb in photos.values():
        ours = _native.resize(rgb, *size, filter="pil_bilinear")
        ref = reference.resize_pil(rgb, *size)
        assert np.array_equal(ours, ref), f"max diff {np.abs(ours.astype(int) - ref).max()}"


@pytest.mark.parametrize("size", SIZES)
def test_cv2_linear_matches_opencv_on_photos(photos, size):
    for rgb in photos.values():
        ours = _native.resize(rgb, *size, filter="cv2_linear")
        ref = reference.resize_cv(rgb, *size)
        diff = np.abs(ours.astype(int) - ref)
        assert diff.max() <= 1, f"max diff {diff.max()}"
        assert diff.mean() < 0.01


@pytest.mark.parametrize("source", [(1, 1), (2, 2), (7, 3), (4000, 3), (3, 4000), (896, 896)])
def test_extreme_sources(source):
    rgb = images.gradient(*source)
    for size in [(448, 448), (5, 9)]:
        assert np.array_equal(_native.resize(rgb, *size), reference.resize_pil(rgb, *size))
        diff = np.abs(_native.resize(rgb, *size, filter="cv2_linear").astype(int) - reference.resize_cv(rgb, *size))
        assert diff.max() <= 1


def test_same_size_is_identity():
    rgb = images.gradient(448, 448)
    assert np.array_equal(_native.resize(rgb, 448, 448), rgb)
    assert np.array_equal(_native.resize(rgb, 448, 448, filter="cv2_linear"), rgb)


@pytest.mark.parametrize("wh", [(640, 480), (480, 640), (333, 333), (1001, 250), (250, 1001)])
def test_short_side_size_rounds_like_python(wh):
    w, h = wh
    percent = 256 / min(w, h)
    assert _native.short_side_size(w, h, 256) == (round(w * percent), round(h * percent))


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        _native.resize(images.gradient(4, 4), 0, 4)
    with pytest.raises(ValueError, match="unknown resize filter"):
        _native.resize(images.gradient(4, 4), 2, 2, filter="lanczos")


def test_pass_order_follows_pillow_on_random_sizes():
    # Pillow 13 picks the vertical pass first for some shapes; the 8-bit rounding
    # between passes makes the order visible, so random shapes catch a wrong rule.
    rng = np.random.default_rng(11)
    for _ in range(60):
        iw, ih = (int(v) for v in rng.integers(8, 300, 2))
        ow, oh = (int(v) for v in rng.integers(4, 260, 2))
        rgb = rng.integers(0, 256, (ih, iw, 3), dtype=np.uint8)
        assert np.array_equal(_native.resize(rgb, ow, oh), reference.resize_pil(rgb, ow, oh)), (iw, ih, ow, oh)


def test_portable_kernels_match_pillow_too():
    # The AVX2 kernel is the one this machine runs; the portable one must agree.
    script = (
        "import numpy as np, reference\n"
        "from pyml import _native\n"
        "rng = np.random.default_rng(5)\n"
        "for size in [(640, 480, 448, 448), (300, 900, 200, 100), (97, 61, 448, 448)]:\n"
        "    rgb = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)\n"
        "    assert np.array_equal(_native.resize(rgb, *size[2:]), reference.resize_pil(rgb, *size[2:]))\n"
    )
    env = dict(os.environ, PYML_DISABLE_AVX2="1", PYTHONPATH=str(Path(__file__).parents[1]))
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
