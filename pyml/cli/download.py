"""`pyml download`: fetch official models (and training weights) ahead of time."""

from __future__ import annotations

import argparse

DESCRIPTION = "Fetch official models ahead of time (for building images, or for offline use later)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME", help="official model names (see pyml models)")
    p.add_argument(
        "--pretrained", action="store_true", help="also fetch each one's training weights (<NAME>_pretrained.pdparams)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..downloads import download_model, fetch_pretrained
    from ..models import check_name, find_local

    for name in args.names:  # every name is checked before anything downloads
        check_name(name, "pyml download")
    for name in args.names:
        found = find_local(name)
        if found is None:
            found = download_model(name, progress=not args.quiet)
        print(f"{name}: {found}")
        if args.pretrained:
            print(f"{name}: {fetch_pretrained(name, progress=not args.quiet)}")
    return 0
