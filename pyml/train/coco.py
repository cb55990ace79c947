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


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable COCO JSON file ({exc})") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ConfigError(f"{path}: missing the COCO list '{key}'")
    return data


def _rows(data: dict, path: Path, class_of: dict[int, int]) -> list[tuple[str, np.ndarray]]:
    """(file_name, 0/1 vector) per image, in the file's image order."""
    vectors: dict[int, np.ndarray] = {}
    names: dict[int, str] = {}
    for image in data["images"]:
        if "id" not in image or "file_name" not in image:
            raise ConfigError(f"{path}: an image entry lacks 'id' or 'file_name': {image!r}"[:300])
        vectors[image["id"]] = np.zeros(len(class_of), np.uint8)
        names[image["id"]] = image["file_name"]
    for ann in data["annotations"]:
        image_id, category = ann.get("image_id"), ann.get("category_id")
        if image_id not in vectors:
            raise ConfigError(f"{path}: annotation {ann.get('id')} names image {image_id}, which is not listed")
        if category not in class_of:
            raise ConfigError(f"{path}: annotation {ann.get('id')} names category {category}, which is not listed")
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
    train = _load(annotations)
    categories = sorted(train["categories"], key=lambda c: c["id"])
    class_of = {c["id"]: k for k, c in enumerate(categories)}
    if not categories:
        raise ConfigError(f"{annotations}: no categories")
    rows = _rows(train, annotations, class_of)
    if val_annotations is not None:
        val_data = _load(Path(val_annotations))
        if sorted((c["id"], c["name"]) for c in val_data["categories"]) != sorted(
            (c["id"], c["name"]) for c in categories
        ):
            raise ConfigError(f"{val_annotations}: its categories differ from {annotations}'s")
        splits = {"train": rows, "val": _rows(val_data, Path(val_annotations), class_of)}
    else:
        if not 0 < val_percent < 100:
            raise ConfigError(f"val_percent must be between 0 and 100, not {val_percent}")
        order = np.random.default_rng(seed).permutation(len(rows))
        n_val = max(1, round(len(rows) * val_percent / 100))
        splits = {"train": [rows[i] for i in sorted(order[n_val:])], "val": [rows[i] for i in sorted(order[:n_val])]}
    for split in splits.values():
        for name, _ in split:
            if Path(name).is_absolute() or ".." in Path(name).parts or any(ch in name for ch in "\t\n\r"):
                raise ConfigError(f"{annotations}: image file_name {name!r} must be a plain path inside {images_dir}")
    missing = [name for split in splits.values() for name, _ in split if not (images_dir / name).is_file()]
    if missing:
        raise ConfigError(f"{images_dir}: {len(missing)} annotated image(s) not found, e.g. {missing[0]}")
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
