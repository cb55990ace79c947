"""`pyml convert_dataset`: COCO annotations into PaddleX's multi-label layout."""

from __future__ import annotations

import argparse

DESCRIPTION = "Convert annotations into a PaddleX multi-label dataset."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="source_format", choices=("coco",), required=True)
    p.add_argument("annotations", help="COCO JSON (instances) of the training images")
    p.add_argument("images_dir", help="folder the annotations' file_name entries are relative to")
    p.add_argument("out_dir", help="new folder for the dataset")
    p.add_argument("--val", help="COCO JSON of the validation images (default: split off --val_percent)")
    p.add_argument("--val_percent", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from ..train import read_dataset
    from ..train.coco import convert_coco

    out = convert_coco(args.annotations, args.images_dir, args.out_dir, args.val, args.val_percent, args.seed)
    print(read_dataset(out).summary())
    return 0
