"""Writes the fuzzers' seed corpus to tests/reliability/corpus: small valid JPEG and
PNG files of every variant the decoder handles, plus broken ones (cut short, bad
CRC, absurd header sizes, garbage after a magic number). Deterministic; run again
only to change the corpus.

    python -m tools.make_fuzz_corpus
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import images  # noqa: E402  (the tests' own image makers)

OUT = Path(__file__).resolve().parents[1] / "tests" / "reliability" / "corpus"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height and has one tiny IDAT: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + png_chunk(b"IEND", b"")
    )


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its SOF frame size rewritten."""
    out = bytearray(data)
    i = 2
    while i + 4 < len(out):
        marker, length = out[i + 1], struct.unpack(">H", out[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            out[i + 5 : i + 9] = struct.pack(">HH", height, width)
            return bytes(out)
        i += 2 + length
    raise ValueError("no SOF marker")


def seeds() -> dict[str, bytes]:
    small = images.gradient(23, 17, seed=1)
    jpeg = images.jpeg(small)
    out = {
        "baseline.jpg": jpeg,
        "progressive.jpg": images.jpeg(small, progressive=True),
        "q10.jpg": images.jpeg(small, quality=10),
        "grey.jpg": images.grey_jpeg(19, 11),
        "cmyk.jpg": images.cmyk_jpeg(13, 9),
        "exif6.jpg": images.exif_jpeg(6, 16, 9),
        "exif8.jpg": images.exif_jpeg(8, 9, 16),
        "one_pixel.jpg": images.jpeg(images.gradient(1, 1)),
        "truncated_header.jpg": jpeg[:40],
        "truncated_data.jpg": jpeg[: len(jpeg) * 2 // 3],
        "no_eoi.jpg": jpeg[:-2],
        "bomb_60000.jpg": jpeg_with_size(jpeg, 60000, 60000),
        "zero_width.jpg": jpeg_with_size(jpeg, 0, 17),
        "garbage.jpg": b"\xff\xd8\xff" + bytes(np.random.default_rng(7).integers(0, 256, 200, np.uint8)),
        "bomb_60000.png": png_header_only(60000, 60000),
        "wide.png": png_header_only(2**31 - 1, 1),
        "garbage.png": b"\x89PNG\r\n\x1a\n" + bytes(np.random.default_rng(8).integers(0, 256, 200, np.uint8)),
        "interlaced.png": images.pil_bytes(Image.fromarray(images.gradient(11, 7)), "PNG", interlace=True),
        "empty": b"",
        "text.jpg": b"this is not an image\n",
    }
    for name, data in images.png_variants().items():
        # The same variants, smaller: re-encode from a crop where Pillow can.
        out[f"{name}.png"] = data if len(data) < 4096 else _smaller_png(name, data)
    rgb = out["rgb.png"]
    out["truncated.png"] = rgb[: len(rgb) // 2]
    bad_crc = bytearray(rgb)
    bad_crc[29] ^= 0xFF  # inside IHDR's CRC
    out["bad_crc.png"] = bytes(bad_crc)
    return out


def _smaller_png(name: str, data: bytes) -> bytes:
    import io

    image = Image.open(io.BytesIO(data))
    image.load()
    return images.pil_bytes(image.crop((0, 0, 12, 9)), "PNG")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(seeds().items()):
        (OUT / name).write_bytes(data)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(list(OUT.iterdir()))} seeds, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
