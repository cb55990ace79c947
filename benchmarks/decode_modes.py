"""Exact vs fast JPEG decoding, measured at the model level (the basis of the default).

    python -m benchmarks.decode_modes [--canvases 600] [--lcnet-dir DIR]

1. The demo model on held-out test canvases drawn at 192-768 px and saved as
   JPEG q90 (so fast mode really decodes at 1/2..1/8 scale): mAP in each mode and
   the share of images whose labels agree.
2. An architecture export (PP-LCNet_x1_0_ML at 448, made if not given) on real
   photos re-encoded at 2 MP and 12 MP: label agreement and score differences.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

import pyml
from tools.demo_data import LABELS, draw_batch, load_splits


def jpeg(bgr: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def run(pipeline, paths: list[str], threshold=0.0):
    return list(pipeline.predict(paths, threshold=threshold, batch_size=16))


def score_matrix(results, classes: int) -> np.ndarray:
    out = np.zeros((len(results), classes))
    for i, r in enumerate(results):
        out[i, r.class_ids] = r.scores
    return out


def demo_section(count: int, folder: Path) -> None:
    from sklearn.metrics import average_precision_score

    images, truth = draw_batch(load_splits()["test"], np.random.default_rng(7), count, scales=(3, 6, 12))
    paths = []
    for i, image in enumerate(images):
        path = folder / f"demo_{i:04d}.jpg"
        path.write_bytes(jpeg(image))
        paths.append(str(path))
    maps, labels = {}, {}
    for mode in ("exact", "fast"):
        pipe = pyml.create_pipeline(decode_mode=mode)
        scores = score_matrix(run(pipe, paths), len(LABELS))
        maps[mode] = np.mean([average_precision_score(truth[:, c], scores[:, c]) for c in range(len(LABELS))])
        labels[mode] = [tuple(r.class_ids) for r in run(pipe, paths, threshold=None)]
    agree = np.mean([a == b for a, b in zip(labels["exact"], labels["fast"])])
    print(f"demo model, {count} test canvases (192-768 px JPEG q90):")
    print(f"  mAP exact {maps['exact']:.4f}   mAP fast {maps['fast']:.4f}   labels identical on {agree:.1%} of images")


def export_section(lcnet_dir: Path | None, folder: Path) -> None:
    from sklearn.datasets import load_sample_images

    if lcnet_dir is None:
        from tools.export_arch import export

        lcnet_dir = export("PP-LCNet_x1_0_ML", folder / "lcnet")
    photos = load_sample_images().images
    for label, (w, h) in (("2 MP", (1632, 1224)), ("12 MP", (4000, 3000))):
        paths = []
        for i, rgb in enumerate(photos):
            big = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
            path = folder / f"photo_{i}_{w}.jpg"
            path.write_bytes(jpeg(np.ascontiguousarray(big)))
            paths.append(str(path))
        scores, labels = {}, {}
        for mode in ("exact", "fast"):
            pipe = pyml.create_pipeline(model_dir=str(lcnet_dir), model_name="x", decode_mode=mode)
            scores[mode] = score_matrix(run(pipe, paths), 80)
            labels[mode] = [tuple(r.class_ids) for r in run(pipe, paths, threshold=None)]
        diff = np.abs(scores["exact"] - scores["fast"])
        agree = np.mean([a == b for a, b in zip(labels["exact"], labels["fast"])])
        print(
            f"PP-LCNet_x1_0_ML export (seeded random weights), {len(paths)} photos at {label}: "
            f"max |score diff| {diff.max():.4f}, mean {diff.mean():.5f}, labels identical {agree:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canvases", type=int, default=600)
    parser.add_argument("--lcnet-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo_section(args.canvases, Path(tmp))
        export_section(args.lcnet_dir, Path(tmp))


if __name__ == "__main__":
    main()
