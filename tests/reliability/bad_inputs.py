"""The bad-input matrix: every kind of broken image file, with the reasons pyml
may give for it. Shared by the matrix tests (API, CLI, gRPC) and the soak test."""

from __future__ import annotations

import os
from functools import cache

import pyml
from tools.make_fuzz_corpus import png_header_only, seeds

DEMO_DIR = os.path.join(os.path.dirname(pyml.__file__), "demo", "images")
DEMO_IMAGES = sorted(os.path.join(DEMO_DIR, n) for n in os.listdir(DEMO_DIR) if n.endswith(".jpg"))

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@cache
def bad_files() -> dict[str, tuple[bytes, frozenset[str]]]:
    """name -> (file bytes, reasons pyml may report). Names end in .jpg/.png on purpose."""
    with open(DEMO_IMAGES[0], "rb") as f:
        jpeg = f.read()
    corpus = seeds()
    png = corpus["rgb.png"]
    broken = frozenset({"truncated", "corrupt"})
    rows = {
        "zero_bytes.jpg": (b"", {"empty"}),
        "random_after_jpeg_magic.jpg": (corpus["garbage.jpg"], broken),
        "random_after_png_magic.png": (corpus["garbage.png"], broken),
        "bomb_60000x60000.jpg": (corpus["bomb_60000.jpg"], {"too_large"}),
        "bomb_60000x60000.png": (corpus["bomb_60000.png"], {"too_large"}),
        "over_pixel_limit_20000x9000.png": (png_header_only(20000, 9000), {"too_large"}),
        "gif_named.jpg": (GIF, {"unsupported"}),
        "text_named.jpg": (b"this is a text file, not a picture\n", {"unsupported"}),
        "bad_crc.png": (corpus["bad_crc.png"], broken),
    }
    for cut in (2, 10, 200, len(jpeg) // 2, len(jpeg) - 10):
        rows[f"jpeg_cut_at_{cut}.jpg"] = (jpeg[:cut], broken | ({"unsupported"} if cut < 3 else set()))
    for cut in (8, 20, 40, len(png) // 2, len(png) - 30):  # the last 12 bytes (IEND) are not needed
        rows[f"png_cut_at_{cut}.png"] = (png[:cut], broken | ({"unsupported"} if cut < 8 else set()))
    return {name: (data, frozenset(reasons)) for name, (data, reasons) in rows.items()}


def write_bad_files(folder) -> dict[str, frozenset[str]]:
    """Writes every bad file into `folder`; returns path -> allowed reasons."""
    out = {}
    for name, (data, reasons) in bad_files().items():
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        out[path] = reasons
    return out
