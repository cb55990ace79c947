"""`pyml check_dataset`: every problem of a dataset, then its counts."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = "Check a PaddleX multi-label dataset (images/, label.txt, train.txt, val.txt) and count its labels."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset")
    p.add_argument("--all", action="store_true", help="list every problem (default: the first 50)")


def run(args) -> int:
    from ..train import DatasetError, read_dataset

    try:
        print(read_dataset(args.dataset).summary())
    except DatasetError as exc:
        if not args.all:
            raise
        print(f"pyml: error: {exc.root}: {len(exc.problems)} problem(s) in the dataset:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return 0
