"""PaddleX's multi-label classification dataset (`MLClsDataset`): reading and checking.

    dataset_dir/
      images/       the pictures (paths in the lists are relative to dataset_dir)
      label.txt     one class a line: "<id> <name>", ids 0..C-1 in order; pyml also reads an
                    optional category after a TAB ("<id> <name><TAB><category>"), which
                    pyml train carries into the export (Global.pyml_categories)
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

from ..errors import PymlError, count
from ..inputs import decode_file

SPLITS = ("train", "val")
MAX_PROBLEMS_SHOWN = 50


class DatasetError(PymlError, ValueError):
    """A dataset that cannot be trained on; `problems` lists every `file:line: what`, in
    file and line order (the message shows the first MAX_PROBLEMS_SHOWN)."""

    def __init__(self, root: Path, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = (
            f"\n  ... and {len(problems) - len(shown)} more (pyml check_dataset --all shows them)"
            if len(problems) > len(shown)
            else ""
        )
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
    categories: list[str] = field(default_factory=list)  # label.txt's optional column, by class id

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def targets(self, split: str) -> np.ndarray:
        return np.stack([s.labels for s in self.splits[split]])

    def summary(self) -> str:
        """Counts per class and split, as a table for the terminal."""
        width = max(8, *(len(n) for n in self.labels))
        counts = {split: self.targets(split).sum(axis=0).astype(int) for split in self.splits}
        lines = [
            f"{self.root}: {self.num_classes} classes, "
            + ", ".join(f"{count(len(v), k + ' image')}" for k, v in self.splits.items()),
            f"{'id':>4}  {'class':<{width}}" + "".join(f"{s:>8}" for s in self.splits),
        ]
        for c, name in enumerate(self.labels):
            lines.append(f"{c:>4}  {name:<{width}}" + "".join(f"{counts[s][c]:>8}" for s in self.splits))
        return "\n".join(lines)


class Problems:
    """What is wrong with a dataset, each kept with its file and line so that the report
    reads in file and line order, whatever order the checks found them in."""

    def __init__(self) -> None:
        self._found: list[tuple[str, int, str]] = []

    def add(self, path: Path, line: int, what: str) -> None:
        """line 0: the file as a whole."""
        self._found.append((str(path), line, what))

    def __bool__(self) -> bool:
        return bool(self._found)

    def lines(self) -> list[str]:
        return [f"{path}:{line}: {what}" if line else f"{path}: {what}" for path, line, what in sorted(self._found)]


def _read_lines(path: Path, problems: Problems) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add(path, 0, "missing")
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, 0, f"cannot read ({exc})")
        return []
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]


@dataclass
class Labels:
    names: list[str]  # by class id; a missing id gets its number as its name
    missing: list[int]  # ids absent from label.txt (each one a gap)
    categories: list[str] = field(default_factory=list)  # by class id ("" none); [] when no line has one

    @property
    def listed(self) -> int:
        """How many classes label.txt actually lists."""
        return len(self.names) - len(self.missing)


def read_labels(root: Path, problems: Problems) -> Labels:
    path = root / "label.txt"
    names: dict[int, str] = {}
    categories: dict[int, str] = {}
    for n, line in _read_lines(path, problems):
        line, _, category = line.partition("\t")
        head, _, name = line.partition(" ")
        if not head.isdigit() or not name.strip():
            problems.add(path, n, f"expected '<id> <name>', got {line!r}")
            continue
        cid = int(head)
        if cid in names:
            problems.add(path, n, f"duplicate class id {cid} (also '{names[cid]}')")
            continue
        names[cid] = name.strip()
        if category.strip():
            categories[cid] = category.strip()
    if not names:
        if path.exists():
            problems.add(path, 0, "no classes")
        return Labels([], [])
    missing = sorted(set(range(max(names) + 1)) - set(names))
    if missing:
        problems.add(
            path,
            0,
            f"class ids must run 0..{max(names)} with no gaps; missing "
            + ", ".join(map(str, missing[:20]))
            + (" ..." if len(missing) > 20 else ""),
        )
    ids = range(max(names) + 1)
    return Labels(
        [names.get(c, str(c)) for c in ids], missing, [categories.get(c, "") for c in ids] if categories else []
    )


def _line_list(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:8]))
    return shown + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")


def read_split(root: Path, split: str, labels: Labels, problems: Problems) -> tuple[list[Sample], list[Sample]]:
    """(the usable samples, every line whose image exists: the ones to decode-check)."""
    path = root / f"{split}.txt"
    num_classes = len(labels.names)
    samples, present = [], []
    lines = _read_lines(path, problems)
    if path.exists() and not lines:
        problems.add(path, 0, f"the {split} split is empty")
    wrong_length: dict[int, list[int]] = {}  # value count -> line numbers: one cause, reported once
    for n, line in lines:
        where = f"{path}:{n}"
        parts = line.split("\t")
        if len(parts) != 2:
            problems.add(path, n, f"expected '<image path><TAB><0/1 per class>', got {line!r}")
            continue
        image, vector = parts
        image_path = root / image.strip()
        values = [v.strip() for v in vector.split(",")]
        usable = True
        if any(v not in ("0", "1") for v in values):
            bad = next(v for v in values if v not in ("0", "1"))
            problems.add(path, n, f"label values must be 0 or 1, found {bad!r}")
            usable = False
        elif num_classes and len(values) != num_classes:
            wrong_length.setdefault(len(values), []).append(n)
            usable = False
        if not image_path.is_file():  # checked whatever else is wrong with the line
            problems.add(path, n, f"image {image.strip()} not found")
            continue
        sample = Sample(image_path, np.array(values if usable else [], np.float32), where)
        present.append(sample)
        if usable:
            samples.append(sample)
    for values_per_line, numbers in sorted(wrong_length.items()):
        cause = ""
        if labels.missing and values_per_line == labels.listed:
            cause = (
                f" (label.txt lists {labels.listed} classes but its ids have a gap, so it reads as "
                f"{num_classes}: fix the ids in label.txt)"
            )
        what = (
            f"{values_per_line} label values, but label.txt has {num_classes} classes{cause}"
            if len(numbers) == 1
            else f"{len(numbers)} lines have {values_per_line} label values, but label.txt has {num_classes} classes"
            f"{cause}: lines {_line_list(numbers)}"
        )
        problems.add(path, numbers[0], what)
    return samples, present


def _unreadable(root: Path, samples: list[Sample], problems: Problems, threads: int = 0) -> None:
    def check(sample: Sample) -> str | None:
        try:
            decode_file(sample.path)  # the pipeline's decoders and words
        except Exception as exc:  # noqa: BLE001 - any failure to decode is this sample's problem
            reason = str(exc).removeprefix(f"{sample.path}: ")  # the pipeline's words, without its path
            return f"image {sample.path.relative_to(root).as_posix()}: {reason}"
        return None

    with ThreadPoolExecutor(max_workers=threads or None) as pool:
        for sample, problem in zip(samples, pool.map(check, samples)):
            if problem:
                file, _, line = sample.where.rpartition(":")
                problems.add(Path(file), int(line), problem)


def read_dataset(root: str | Path, check_images: bool = True, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """Reads and checks a dataset (the given splits); raises DatasetError listing every problem."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(root, [f"{root}: not a directory"])
    problems = Problems()
    labels = read_labels(root, problems)
    dataset = Dataset(root, labels.names, categories=labels.categories)
    present = []
    for split in splits:
        dataset.splits[split], images = read_split(root, split, labels, problems)
        present += images
    if check_images:  # every image a line names, even on a line with other problems
        _unreadable(root, present, problems)
    if problems:
        raise DatasetError(root, problems.lines())
    return dataset


__all__ = ["SPLITS", "Dataset", "DatasetError", "Sample", "read_dataset"]
