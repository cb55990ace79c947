"""COCO-format annotations (what most labelling tools export) to an MLClsDataset.

    pyml convert_dataset --from coco ANNOTATIONS.json IMAGES_DIR OUT_DIR [--val ANNOTATIONS_VAL.json]
                         [--val_percent 20] [--seed 0]

An image's label vector marks every category that has at least one annotation on it
(boxes and masks are ignored: this is image-level tagging). Categories are renumbered
0..N-1 in the order of their COCO ids and keep their names; PaddleX's converter writes
COCO's raw ids into label.txt, which its own checker then rejects unless they already
run 0..N-1. Images are copied into OUT_DIR/images. Without a separate validation file,
`val_percent` of the images (seeded) become the val split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..errors import ConfigError

MAX_SHOWN = 20  # problems listed in the error; the count says how many more


class CocoProblems:
    """Every fault found in the annotations, reported together (as check_dataset does)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def add(self, path: Path, what: str) -> None:
        self.found.append(f"{path}: {what}"[:300])

    def raise_if_any(self) -> None:
        if not self.found:
            return
        shown = self.found[:MAX_SHOWN]
        more = f"\n  ... and {len(self.found) - len(shown)} more" if len(self.found) > len(shown) else ""
        raise ConfigError(f"{len(self.found)} problem(s) in the COCO annotations:\n  " + "\n  ".join(shown) + more)


def _load(path: Path, problems: CocoProblems) -> dict | None:
    """The file's JSON with its three lists, or None (the problems say why)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add(path, "no such file")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add(path, f"not a readable COCO JSON file ({exc})")
        return None
    if not isinstance(data, dict):
        problems.add(path, "not a COCO JSON object")
        return None
    lists = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    for key in lists:
        problems.add(path, f"missing the COCO list '{key}'")
    return None if lists else data


def _categories(data: dict, path: Path, problems: CocoProblems) -> list[dict]:
    good = []
    for category in data["categories"]:
        if not isinstance(category, dict) or not isinstance(category.get("id"), int) or "name" not in category:
            problems.add(path, f"a category lacks an integer 'id' or a 'name': {category!r}")
        else:
            good.append(category)
    if not data["categories"]:
        problems.add(path, "no categories")
    return sorted(good, key=lambda c: c["id"])


def _rows(data: dict, path: Path, class_of: dict[int, int], problems: CocoProblems) -> list[tuple[str, np.ndarray]]:
    """(file_name, 0/1 vector) per image, in the file's image order."""
    vectors: dict[int, np.ndarray] = {}
    names: dict[int, str] = {}
    for image in data["images"]:
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            problems.add(path, f"an image entry lacks 'id' or 'file_name': {image!r}")
            continue
        vectors[image["id"]] = np.zeros(len(class_of), np.uint8)
        names[image["id"]] = image["file_name"]
    for ann in data["annotations"]:
        if not isinstance(ann, dict):
            problems.add(path, f"an annotation is not an object: {ann!r}")
            continue
        image_id, category = ann.get("image_id"), ann.get("category_id")
        known = True
        if image_id not in vectors:
            problems.add(path, f"annotation {ann.get('id')} names image {image_id}, which is not listed")
            known = False
        if category not in class_of:
            problems.add(path, f"annotation {ann.get('id')} names category {category}, which is not listed")
            known = False
        if known:
            vectors[image_id][class_of[category]] = 1
    return [(names[i], vectors[i]) for i in vectors]


def convert_coco(
    annotations: str | Path,
    images_dir: str | Path,
    out_dir: str | Path,
    val_annotations: str | Path | None = None,
    val_percent: float = 20.0,
    seed: int = 0,
) -> Path:
    annotations, images_dir, out_dir = Path(annotations), Path(images_dir), Path(out_dir)
    if val_annotations is None and not 0 < val_percent < 100:
        raise ConfigError(f"val_percent must be between 0 and 100, not {val_percent}")
    problems = CocoProblems()
    train = _load(annotations, problems)
    val_data = _load(Path(val_annotations), problems) if val_annotations is not None else None
    problems.raise_if_any()  # nothing more can be checked without the lists
    categories = _categories(train, annotations, problems)
    class_of = {c["id"]: k for k, c in enumerate(categories)}
    rows = _rows(train, annotations, class_of, problems)
    if val_data is not None:
        if sorted((c.get("id"), c.get("name")) for c in val_data["categories"] if isinstance(c, dict)) != sorted(
            (c["id"], c["name"]) for c in categories
        ):
            problems.add(Path(val_annotations), f"its categories differ from {annotations}'s")
        splits = {"train": rows, "val": _rows(val_data, Path(val_annotations), class_of, problems)}
    else:
        order = np.random.default_rng(seed).permutation(len(rows))
        n_val = max(1, round(len(rows) * val_percent / 100))
        splits = {"train": [rows[i] for i in sorted(order[n_val:])], "val": [rows[i] for i in sorted(order[:n_val])]}
    for split in splits.values():
        for name, _ in split:
            if (
                not isinstance(name, str)
                or Path(name).is_absolute()
                or ".." in Path(name).parts
                or any(ch in name for ch in "\t\n\r")
            ):
                problems.add(annotations, f"image file_name {name!r} must be a plain path inside {images_dir}")
            elif not (images_dir / name).is_file():
                problems.add(images_dir, f"annotated image {name} not found")
    problems.raise_if_any()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} exists and is not empty; choose a new folder")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "label.txt").write_text(
        "".join(f"{k} {c['name']}\n" for k, c in enumerate(categories)), encoding="utf-8"
    )
    for split, entries in splits.items():
        lines = []
        for name, vector in entries:
            target = Path("images") / name
            (out_dir / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(images_dir / name, out_dir / target)
            lines.append(f"{target.as_posix()}\t{','.join(map(str, vector.tolist()))}\n")
        (out_dir / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
    return out_dir


__all__ = ["convert_coco"]
