"""The result of classifying one image, and its printing, saving and drawing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import _native
from .errors import InputError, Reason
from .fonts import is_latin, rendered_text

BAND_COLOUR = (255, 0, 0)
TEXT_COLOUR = (255, 255, 255)
IMAGE_SUFFIXES_KEPT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _safe_stem(name: str) -> str:
    """A file-name stem from an input name that cannot leave the save directory."""
    stem = Path(name.split("?", 1)[0].rstrip("/")).stem or "image"
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "image"
    return stem[:128]


def _suffix_of(name: str) -> str:
    suffix = Path(name.split("?", 1)[0]).suffix.lower()
    return suffix if suffix in IMAGE_SUFFIXES_KEPT else ".png"


def _target(save_path: str | Path, name: str, suffix: str) -> Path:
    """A directory gets `<input stem>_res<suffix>` inside it; a file path is used as is."""
    save_path = Path(save_path).expanduser()
    if save_path.is_dir() or not save_path.suffix:
        save_path.mkdir(parents=True, exist_ok=True)
        target = save_path / f"{_safe_stem(name)}_res{suffix}"
        if target.resolve().parent != save_path.resolve():  # belt and braces: stay inside
            raise InputError(f"{name}: refusing to write outside {save_path}", reason=Reason.UNSAFE_NAME)
        return target
    save_path.parent.mkdir(parents=True, exist_ok=True)
    return save_path


class SaveLayout:
    """Where a run's results go under one save_path: an image found in a folder input
    keeps its path relative to that folder (`a/x.jpg` -> `a/x_res.json`), anything else
    its stem at the top; a name another input of the same run already has gets `_2`,
    `_3`, ... The layout is computed from the run's whole input list, in order, so it
    is the same in every process of the run (Ray actors) and when a run is resumed.
    (PaddleX writes every result to `<stem>_res.*` at the top of save_path, so inputs
    sharing a file name overwrite each other.)"""

    def __init__(self, save_path: str | Path, names: Iterable[str], folders: Iterable[str | Path] = ()) -> None:
        self.save_path = Path(save_path).expanduser()
        self._roots = [Path(f).expanduser().resolve() for f in folders if Path(f).expanduser().is_dir()]
        self._stems: dict[str, Path] = {}
        self._taken: set[str] = set()
        for name in names:
            self._assign(name)

    def _assign(self, name: str) -> Path:
        stem = Path(_safe_stem(name))
        if "://" not in name:
            path = Path(name).expanduser().resolve()
            root = next((r for r in self._roots if path.is_relative_to(r)), None)
            if root is not None:
                folder = [re.sub(r"[^\w.-]+", "_", part) for part in path.relative_to(root).parent.parts]
                stem = Path(*folder, stem.name)
        unique, n = stem, 1
        while unique.as_posix() in self._taken:
            n += 1
            unique = stem.with_name(f"{stem.name}_{n}")
        self._taken.add(unique.as_posix())
        self._stems[name] = unique
        return unique

    def targets(self, name: str) -> tuple[Path, Path]:
        """(json file, drawing file) of the input `name`; a name not in the list given
        at the start takes the next free place."""
        stem = self._stems.get(name) or self._assign(name)
        base = self.save_path / stem.parent
        return base / f"{stem.name}_res.json", base / f"{stem.name}_res{_suffix_of(name)}"

    def save(self, result: MultiLabelResult, images: bool = True) -> list[Path]:
        json_file, image_file = self.targets(result.input_path)
        saved = [result.save_to_json(json_file)]
        if images:
            saved.append(result.save_to_img(image_file))
        return saved


class MultiLabelResult(dict):
    """Labels of one image, high score first, as a dict of exactly the printed keys
    (`img_path`, `class_ids`, `scores`, `label_names`, plus `error` for an image that
    could not be classified when the caller asked for errors as results).

    PaddleX documents its results as dicts and its users index them, so this is one:
    `r["scores"]`, `r.get(...)`, `json.dumps(r)` and `dict(r)` all work. `r["input_path"]`
    (PaddleX 3.x's name) reads `img_path`. The attributes read the same entries; `image`
    (the original, for drawing), `all_scores` (every class's score) and `error` (the
    InputError itself) are attributes only, never printed.
    """

    _ALIASES: ClassVar[dict[str, str]] = {"input_path": "img_path"}

    def __init__(
        self,
        input_path: str,
        class_ids: list[int] | None = None,
        scores: list[float] | None = None,
        label_names: list[str] | None = None,
        error: InputError | None = None,
        image: bytes | np.ndarray | None = None,
        all_scores: np.ndarray | None = None,
        categories: list[str] | None = None,
    ) -> None:
        super().__init__(
            img_path=input_path,
            class_ids=list(class_ids or ()),
            scores=list(scores or ()),
            label_names=list(label_names or ()),
        )
        if error is not None:
            self["error"] = {"reason": error.reason, "message": str(error)}
        self.error = error
        self.image = image
        self.all_scores = all_scores  # [num_classes]
        # each returned label's category ("" none): pyml's, so not in the PaddleX dict
        self.categories = list(categories or ())

    def __getitem__(self, key):
        return super().__getitem__(self._ALIASES.get(key, key))

    def __contains__(self, key) -> bool:
        return super().__contains__(self._ALIASES.get(key, key))

    def get(self, key, default=None):
        return super().get(self._ALIASES.get(key, key), default)

    input_path = property(lambda self: self["img_path"])
    class_ids = property(lambda self: self["class_ids"])
    scores = property(lambda self: self["scores"])
    label_names = property(lambda self: self["label_names"])

    @property
    def json(self) -> dict[str, Any]:
        """A plain-dict copy (PaddleX 3.x wraps the same in {"res": ...}; pyml does not)."""
        return json.loads(json.dumps(self))

    def print(
        self,
        format_json: bool | None = None,
        indent: int = 4,
        ensure_ascii: bool = False,
        *,
        json_format: bool | None = None,
    ) -> None:
        """JSON (the default) or the dict's repr. `format_json` is the seed tutorial's name,
        `json_format` PaddleX 3.x's; either works."""
        if format_json is not None and json_format is not None and format_json != json_format:
            raise TypeError("print(): format_json and json_format disagree; pass one of them")
        as_json = next((v for v in (json_format, format_json) if v is not None), True)
        print(json.dumps(self, indent=indent, ensure_ascii=ensure_ascii) if as_json else str(self))

    def save_to_json(self, save_path: str | Path, indent: int = 4, ensure_ascii: bool = False) -> Path:
        target = _target(save_path, self.input_path, ".json")
        target.write_text(json.dumps(self, indent=indent, ensure_ascii=ensure_ascii) + "\n", encoding="utf-8")
        return target

    def visualize(self):
        """The original image with a red band of white `name(score)` rows below it (a PIL Image)."""
        from PIL import Image

        rgb = _original_rgb(self)
        image = Image.fromarray(rgb)
        if not self.label_names:
            return image
        return _with_label_band(image, [f"{n}({s:.2f})" for n, s in zip(self.label_names, self.scores)])

    @property
    def img(self):
        """The visualisation as a PIL image (PaddleX 3.x wraps it in {"res": ...}; pyml does not)."""
        return self.visualize()

    def save_to_img(self, save_path: str | Path) -> Path:
        target = _target(save_path, self.input_path, _suffix_of(self.input_path))
        image = self.visualize()
        if target.suffix.lower() in (".jpg", ".jpeg"):
            image.save(target, quality=95)
        else:
            image.save(target)
        return target

    def save_all(self, save_path: str | Path) -> list[Path]:
        """save_to_json and, when the original image is kept, save_to_img into `save_path`."""
        saved = [self.save_to_json(save_path)]
        if self.image is not None:
            saved.append(self.save_to_img(save_path))
        return saved


def _original_rgb(result: MultiLabelResult) -> np.ndarray:
    from .opencv import cv2 as opencv

    cv2 = opencv()
    data = result.image
    if data is None:
        raise InputError(
            f"{result.input_path}: the original image was not kept, nothing to draw",
            reason=Reason.IMAGE_NOT_KEPT,
            source=result.input_path,
        )
    if isinstance(data, np.ndarray):
        bgr = data if data.ndim == 3 else cv2.cvtColor(data, cv2.COLOR_GRAY2BGR)
    elif _native.sniff_format(data) is not None:  # JPEG, PNG: the native decoder, RGB at once, GIL released
        try:
            return _native.decode(data)
        except InputError as exc:
            raise InputError(
                f"{result.input_path}: cannot decode the image to draw on it ({exc})",
                reason=Reason.CORRUPT,
                source=result.input_path,
            ) from None
    else:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(
                f"{result.input_path}: cannot decode the image to draw on it",
                reason=Reason.CORRUPT,
                source=result.input_path,
            )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _with_label_band(image, texts: list[str]):
    from PIL import Image

    width = image.width
    size = max(8, int(0.06 * width))
    glyphs = [rendered_text(t, size, not is_latin(t)) for t in texts]
    gap, margin = max(2, size // 2), max(2, size // 4)
    line = int(size * 1.25)
    # Pack texts left to right, wrapping into a new row when the next would overflow.
    rows: list[list[tuple[Image.Image, tuple[int, int], int]]] = [[]]
    x = margin
    for mask, offset, advance in glyphs:
        if rows[-1] and x + advance > width - margin:
            rows.append([])
            x = margin
        rows[-1].append((mask, offset, x))
        x += advance + gap
    band_height = len(rows) * line + 2 * margin
    canvas = Image.new("RGB", (width, image.height + band_height), BAND_COLOUR)
    canvas.paste(image, (0, 0))
    for r, row in enumerate(rows):
        y = image.height + margin + r * line
        for mask, (dx, dy), x in row:
            canvas.paste(TEXT_COLOUR, (x + dx, y + dy), mask)
    return canvas
