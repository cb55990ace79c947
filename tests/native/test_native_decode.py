"""Native decode against OpenCV's decode (the reference PaddleX uses), bit for bit."""

import images
import numpy as np
import pytest
import reference

from pyml import _native


def assert_same_pixels(buf: bytes) -> None:
    ours = _native.decode(buf)
    ref = reference.decode(buf)
    assert ours.shape == ref.shape
    assert ours.dtype == np.uint8
    assert np.array_equal(ours, ref), f"max diff {np.abs(ours.astype(int) - ref).max()}"


def test_real_photos_decode_like_opencv(photos):
    for rgb in photos.values():
        assert_same_pixels(images.jpeg(rgb))
        assert_same_pixels(images.pil_bytes(images.Image.fromarray(rgb), "PNG"))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (17, 5), (333, 211), (4000, 3), (3, 2500)])
def test_odd_sizes(size):
    w, h = size
    assert_same_pixels(images.jpeg(images.gradient(w, h)))


@pytest.mark.parametrize("quality", [30, 75, 100])
def test_progressive_and_quality(quality):
    img = images.gradient(321, 245, seed=quality)
    assert_same_pixels(images.jpeg(img, quality=quality))
    assert_same_pixels(images.jpeg(img, quality=quality, progressive=True))


def test_grey_jpeg_expands_to_three_channels():
    out = _native.decode(images.grey_jpeg())
    assert np.array_equal(out[:, :, 0], out[:, :, 2])
    assert_same_pixels(images.grey_jpeg())


def test_cmyk_jpeg_converts_like_opencv():
    assert_same_pixels(images.cmyk_jpeg())


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_like_opencv(orientation):
    buf = images.exif_jpeg(orientation)
    assert _native.exif_orientation(buf) == orientation
    out = _native.decode(buf)
    assert out.shape[:2] == ((160, 90) if orientation >= 5 else (90, 160))
    assert_same_pixels(buf)


@pytest.mark.parametrize("variant", sorted(images.png_variants()))
def test_png_variants_decode_like_opencv(variant):
    assert_same_pixels(images.png_variants()[variant])


def test_sniff_format():
    assert _native.sniff_format(images.jpeg(images.gradient(8, 8))) == "jpeg"
    assert _native.sniff_format(images.png_variants()["rgb"]) == "png"
    assert _native.sniff_format(b"BM\x00\x00") is None


@pytest.mark.parametrize("target", [448, 200, 100, 40])
def test_fast_decode_picks_smallest_dct_scale_covering_target(target):
    buf = images.jpeg(images.gradient(1600, 1200))
    out = _native.decode(buf, min_width=target, min_height=target)
    expected_denominator = max(d for d in (1, 2, 4, 8) if -(-1200 // d) >= target)
    assert out.shape[:2] == (-(-1200 // expected_denominator), -(-1600 // expected_denominator))


def test_fast_decode_accounts_for_rotation():
    # Stored 1600x400, shown 400x1600 after EXIF orientation 6. For a 100x400
    # target, 1/4 scale (shown 100x400) is enough; a decoder that ignored the
    # rotation would test the stored 400x100 and fall back to full size.
    exif = images.Image.Exif()
    exif[0x0112] = 6
    stored = images.Image.fromarray(images.gradient(1600, 400))
    buf = images.pil_bytes(stored, "JPEG", quality=90, exif=exif.tobytes())
    out = _native.decode(buf, min_width=100, min_height=400)
    assert out.shape[:2] == (400, 100)
