"""PaddleX's multi-label classification dataset (`MLClsDataset`): reading and checking.

    dataset_dir/
      images/       the pictures (paths in the lists are relative to dataset_dir)
      label.txt     one class a line: "<id> <name>", ids 0..C-1 in order
      train.txt     one picture a line: "images/x.jpg<TAB>0,1,0,..." (C values, each 0 or 1)
      val.txt       the same form

PaddleX's checker splits on TAB and on the first space of a label line; so does
pyml. It checks more than PaddleX: every problem (a missing or unreadable image, a
vector of the wrong length, values other than 0/1, an empty split, duplicate or
missing class ids) is reported as `file:line: what`, all of them at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _native
from ..errors import PymlError

SPLITS = ("train", "val")
MAX_PROBLEMS_SHOWN = 50


class DatasetError(PymlError, ValueError):
    """A dataset that cannot be trained on; `problems` lists every `file:line: what`."""

    def __init__(self, root: Path, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{root}: {len(problems)} problem(s) in the dataset:\n  " + "\n  ".join(shown) + more)
        self.root = root
        self.problems = problems


@dataclass
class Sample:
    path: Path
    labels: np.ndarray  # [C] float32 of 0/1
    where: str  # "<dataset>/train.txt:12", for messages


@dataclass
class Dataset:
    root: Path
    labels: list[str]
    splits: dict[str, list[Sample]] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def targets(self, split: str) -> np.ndarray:
        return np.stack([s.labels for s in self.splits[split]])

    def summary(self) -> str:
        """Counts per class and split, as a table for the terminal."""
        width = max(8, *(len(n) for n in self.labels))
        counts = {split: self.targets(split).sum(axis=0).astype(int) for split in self.splits}
        lines = [f"{self.root}: {self.num_classes} classes, "
                 + ", ".join(f"{len(v)} {k} images" for k, v in self.splits.items()),
                 f"{'id':>4}  {'class':<{width}}" + "".join(f"{s:>8}" for s in self.splits)]
        for c, name in enumerate(self.labels):
            lines.append(f"{c:>4}  {name:<{width}}" + "".join(f"{counts[s][c]:>8}" for s in self.splits))
        return "\n".join(lines)


def _read_lines(path: Path, problems: list[str]) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{path}: missing")
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read ({exc})")
        return []
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]


def read_labels(root: Path, problems: list[str]) -> list[str]:
    path = root / "label.txt"
    names: dict[int, str] = {}
    for n, line in _read_lines(path, problems):
        where = f"{path}:{n}"
        head, _, name = line.partition(" ")
        if not head.isdigit() or not name.strip():
            problems.append(f"{where}: expected '<id> <name>', got {line!r}")
            continue
        cid = int(head)
        if cid in names:
            problems.append(f"{where}: duplicate class id {cid} (also '{names[cid]}')")
            continue
        names[cid] = name.strip()
    if not names:
        if path.exists():
            problems.append(f"{path}: no classes")
        return []
    missing = sorted(set(range(max(names) + 1)) - set(names))
    if missing:
        problems.append(f"{path}: class ids must run 0..{max(names)} with no gaps; missing "
                        + ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else ""))
    return [names.get(c, str(c)) for c in range(max(names) + 1)]


def read_split(root: Path, split: str, num_classes: int, problems: list[str]) -> list[Sample]:
    path = root / f"{split}.txt"
    samples = []
    lines = _read_lines(path, problems)
    if path.exists() and not lines:
        problems.append(f"{path}: the {split} split is empty")
    for n, line in lines:
        where = f"{path}:{n}"
        parts = line.split("\t")
        if len(parts) != 2:
            problems.append(f"{where}: expected '<image path><TAB><0/1 per class>', got {line!r}")
            continue
        image, vector = parts
        image_path = root / image.strip()
        values = [v.strip() for v in vector.split(",")]
        if any(v not in ("0", "1") for v in values):
            bad = next(v for v in values if v not in ("0", "1"))
            problems.append(f"{where}: label values must be 0 or 1, found {bad!r}")
            continue
        if num_classes and len(values) != num_classes:
            problems.append(f"{where}: {len(values)} label values, but label.txt has {num_classes} classes")
            continue
        if not image_path.is_file():
            problems.append(f"{where}: image {image.strip()} not found")
            continue
        samples.append(Sample(image_path, np.array(values, np.float32), where))
    return samples


def decode_file(path: Path):
    """An image's pixels as the pipeline would see them (JPEG/PNG natively, else OpenCV)."""
    data = path.read_bytes()
    if _native.sniff_format(data) is not None:
        return _native.decode(data)
    import cv2

    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if decoded is None:
        raise ValueError("not a decodable image")
    return decoded


def _unreadable(samples: list[Sample], threads: int = 0) -> list[str]:
    def check(sample: Sample) -> str | None:
        try:
            decode_file(sample.path)
        except Exception as exc:  # noqa: BLE001 - any failure to decode is this sample's problem
            return f"{sample.where}: image {sample.path.name} cannot be decoded ({exc})"
        return None

    with ThreadPoolExecutor(max_workers=threads or None) as pool:
        return [p for p in pool.map(check, samples) if p]


def read_dataset(root: str | Path, check_images: bool = True, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """Reads and checks a dataset (the given splits); raises DatasetError listing every problem."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(root, [f"{root}: not a directory"])
    problems: list[str] = []
    labels = read_labels(root, problems)
    dataset = Dataset(root, labels)
    for split in splits:
        dataset.splits[split] = read_split(root, split, len(labels), problems)
    if check_images:
        for split in splits:
            problems.extend(_unreadable(dataset.splits[split]))
    if problems:
        raise DatasetError(root, problems)
    return dataset


__all__ = ["Dataset", "DatasetError", "Sample", "read_dataset", "SPLITS"]
