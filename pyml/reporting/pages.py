"""What pyml's HTML pages share: a page is a template of this package with its data put
in as JSON at write time (so it opens from file:// and loads nothing), and pictures are
small JPEG thumbnails inside it."""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

from ..atomic import atomic_write_text
from ..opencv import cv2 as opencv

JPEG_QUALITY = 70


def thumbnail(name: str, side: int, base: Path) -> str | None:
    """A JPEG thumbnail as base64; None for a picture that is gone or does not decode."""
    cv2 = opencv()
    path = Path(name)
    if not path.is_absolute():
        path = base / path if (base / path).is_file() else path
    if not path.is_file():
        return None
    image = cv2.imread(str(path), cv2.IMREAD_REDUCED_COLOR_2)  # half-size decode: large photos cost less
    if image is None:
        return None
    scale = side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return base64.b64encode(encoded.tobytes()).decode("ascii") if ok else None


def write_page(template: str, data: dict, output: Path) -> Path:
    """Writes template (a file of this package, holding `/*DATA*/null` once) with `data`
    in it, whole or not at all."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    html = resources.files(__package__).joinpath(template).read_text(encoding="utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(output, html.replace("/*DATA*/null", payload, 1))


__all__ = ["thumbnail", "write_page"]
