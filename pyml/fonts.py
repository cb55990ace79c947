"""A font for drawing label names, found on the machine or in an installed package
(never downloaded). Names with CJK (or other non-Latin) characters get a font
that has those glyphs when one is installed (Debian: fonts-wqy-microhei or
fonts-noto-cjk). PYML_FONT=/path/to/font.ttf overrides the search.
"""

from __future__ import annotations

import logging
import os
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

CJK_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LATIN_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def _matplotlib_font() -> str | None:
    try:
        import matplotlib  # noqa: PLC0415  (optional)
    except ImportError:
        return None
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


@cache
def font_path(needs_cjk: bool) -> str | None:
    override = os.environ.get("PYML_FONT")
    if override:
        return override
    candidates = (CJK_CANDIDATES + LATIN_CANDIDATES) if needs_cjk else (LATIN_CANDIDATES + CJK_CANDIDATES)
    for path in candidates:
        if Path(path).is_file():
            return path
    return _matplotlib_font()


def is_latin(text: str) -> bool:
    return all(ord(ch) < 0x2E80 for ch in text)  # below the CJK radicals block


@lru_cache(maxsize=64)
def load_font(size: int, needs_cjk: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path(needs_cjk)
    if needs_cjk and (path is None or path in LATIN_CANDIDATES or path == _matplotlib_font()):
        log.warning("no CJK font installed (e.g. Debian's fonts-wqy-microhei): CJK label names will not render")
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


@lru_cache(maxsize=8192)
def rendered_text(text: str, size: int, needs_cjk: bool) -> tuple[Image.Image, tuple[int, int], int]:
    """`text` rendered once as an 8-bit coverage mask: (mask, (dx, dy) of its top-left from
    the drawing position, advance width). Label strings repeat across images (names and
    two-decimal scores), and FreeType rendering was most of the cost of a drawing
    (30 ms of 37 for 44 labels on a 640x480 picture)."""
    font = load_font(size, needs_cjk)
    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, font=font, fill=255)
    return mask, (left, top), int(font.getlength(text))
