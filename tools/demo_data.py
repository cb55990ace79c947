"""The demo task: which handwritten digits appear on a picture.

A picture is a 2x2 grid of cells on a light, coloured, shaded background; 1 to 4
cells hold a distinct handwritten digit from scikit-learn's digits data set (1,797
8x8 samples), drawn in a dark colour, jittered a little inside its cell. The label
is the set of digits present. The digit *samples* are split into train /
validation / test, so test pictures show handwriting the model never saw.
Everything is seeded: the same seed gives the same pictures.

(Digits at free positions and scales were tried first: from scratch on two CPU
cores the network learned them far too slowly for a demo built in minutes.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
BASE = 64  # the model's input size; pictures are drawn at BASE * scale
CELL = BASE // 2
DIGIT = 24  # digit side in a BASE picture: the 8x8 samples scaled by 3
JITTER = 3


@dataclass
class DigitSplit:
    masks: np.ndarray  # [n, 8, 8] float32 in [0, 1]
    targets: np.ndarray  # [n] int

    def of_class(self, digit: int) -> np.ndarray:
        return self.masks[self.targets == digit]


def load_splits(seed: int = 0) -> dict[str, DigitSplit]:
    """train 70% / val 10% / test 20% of the digit samples, stratified by digit."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    masks = (digits.images / 16.0).astype(np.float32)
    idx = np.arange(len(masks))
    rest, test = train_test_split(idx, test_size=0.2, stratify=digits.target, random_state=seed)
    train, val = train_test_split(rest, test_size=0.125, stratify=digits.target[rest], random_state=seed)
    return {
        name: DigitSplit(masks[i], digits.target[i]) for name, i in (("train", train), ("val", val), ("test", test))
    }


def _luminance(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114]))


def _light_colour(rng: np.random.Generator) -> np.ndarray:
    while True:
        colour = rng.uniform(90, 255, 3)
        if _luminance(colour) > 160:
            return colour


def _dark_colour(rng: np.random.Generator) -> np.ndarray:
    while True:
        colour = rng.uniform(0, 160, 3)
        if _luminance(colour) < 70:
            return colour


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    a, b = _light_colour(rng), _light_colour(rng)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    t = ramp[None, :, None] if rng.random() < 0.5 else ramp[:, None, None]
    bg = a * (1 - t) + b * t
    return np.broadcast_to(bg, (size, size, 3)).astype(np.float32)


def draw_canvas(split: DigitSplit, rng: np.random.Generator, scale: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One BGR uint8 picture of (BASE*scale)^2 pixels and its 10-dim 0/1 label vector."""
    size = BASE * scale
    canvas = _background(size, rng)
    count = int(rng.integers(1, 5))
    digits = rng.choice(10, size=count, replace=False)
    cells = rng.choice(4, size=count, replace=False)
    labels = np.zeros(10, np.float32)
    for digit, cell in zip(digits, cells):
        samples = split.of_class(int(digit))
        ink = np.clip((samples[rng.integers(len(samples))] - 0.15) / 0.85, 0, 1)  # faint strokes off
        side = DIGIT * scale
        mask = cv2.resize(ink, (side, side), interpolation=cv2.INTER_NEAREST)[:, :, None]
        dx, dy = (int(v) * scale for v in rng.integers(-JITTER, JITTER + 1, 2))
        x = (cell % 2) * CELL * scale + (CELL * scale - side) // 2 + dx
        y = (cell // 2) * CELL * scale + (CELL * scale - side) // 2 + dy
        region = canvas[y : y + side, x : x + side]
        canvas[y : y + side, x : x + side] = region * (1 - mask) + _dark_colour(rng) * mask
        labels[digit] = 1
    canvas += rng.normal(0, 4, canvas.shape)
    rgb = np.clip(canvas, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1]), labels


def draw_batch(
    split: DigitSplit, rng: np.random.Generator, count: int, scales: tuple[int, ...] = (1, 2, 3)
) -> tuple[list[np.ndarray], np.ndarray]:
    images, labels = [], []
    for _ in range(count):
        image, label = draw_canvas(split, rng, int(rng.choice(scales)))
        images.append(image)
        labels.append(label)
    return images, np.stack(labels)


def write_dataset(
    out_dir,
    sizes: dict[str, int],
    seed: int = 0,
    scales: tuple[int, ...] = (1, 2, 3),
    label_names: list[str] | None = None,
    relabel=None,
    pictures: str = "trainval",
):
    """Writes the demo task as a PaddleX multi-label dataset (images/, label.txt,
    train.txt, val.txt) and returns its folder.

    sizes: pictures per split, e.g. {"train": 9600, "val": 500}. `pictures` names the
    digit-sample splits the pictures draw on: "trainval" (train pictures from the train
    handwriting, val from val) or "test" (both from the held-out test handwriting, for
    a held-out evaluation set). `relabel(digit_vector) -> vector` turns the digits into
    another label set (with `label_names`), e.g. "has an even digit"."""
    from pathlib import Path

    out_dir = Path(out_dir)
    splits = load_splits(seed)
    names = label_names or LABELS
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "label.txt").write_text("".join(f"{k} {n}\n" for k, n in enumerate(names)))
    for k, (split, count) in enumerate(sizes.items()):
        source = splits["test"] if pictures == "test" else splits[split]
        images, truth = draw_batch(source, np.random.default_rng([seed, k, len(pictures)]), count, scales)
        lines = []
        for i, (image, digits) in enumerate(zip(images, truth)):
            name = f"images/{split}_{i:05d}.jpg"
            cv2.imwrite(str(out_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            labels = relabel(digits) if relabel is not None else digits
            lines.append(f"{name}\t{','.join(str(int(v)) for v in labels)}\n")
        (out_dir / f"{split}.txt").write_text("".join(lines))
    return out_dir
