"""A font for drawing label names, found on the machine or in an installed package
(never downloaded). Names with CJK (or other non-Latin) characters get a font
that has those glyphs when one is installed (Debian: fonts-wqy-microhei or
fonts-noto-cjk). PYML_FONT=/path/to/font.ttf overrides the search.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

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


@lru_cache(maxsize=None)
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
        log.warning("no CJK font installed (e.g. Debian's fonts-wqy-microhei): "
                    "CJK label names will not render")
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)
