"""`pyml models`: the models pyml finds by name, and where each is."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "The models pyml finds by name: PaddleX's six official multi-label models and the demo, and where each is."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")


def run(args) -> int:
    from ..models import (
        DEMO_MODEL_NAME,
        OFFICIAL_MODELS,
        demo_model_dir,
        download_dir,
        find_local,
        mirror,
    )

    print(f"{'model':30s} {'mAP':>6s} {'MB':>6s}  on this machine")
    for model in OFFICIAL_MODELS.values():
        found = find_local(model.name)
        print(f"{model.name:30s} {model.map:6.2f} {model.size_mb:6.1f}  {found or '-'}")
    print(f"{DEMO_MODEL_NAME:30s} {'':>6s} {'':>6s}  {demo_model_dir()} (embedded; --pipeline pyml_demo)")
    print(
        f"mAP: COCO2017 multi-label, as PaddleX publishes it. Downloads go to {download_dir()} from {mirror()}.",
        file=sys.stderr,
    )
    return 0
