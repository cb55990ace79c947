"""`pyml metadata remove DIR`: takes the keywords pyml wrote (pyml batch --metadata) out of
a folder's pictures and sidecars again; everyone else's stay."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, InputError

DESCRIPTION = "Take pyml's keywords out of pictures and their .xmp sidecars (written by pyml batch --metadata)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("remove",), help="remove: take pyml's keywords out")
    p.add_argument("paths", nargs="+", metavar="PATH", help="pictures, or folders (recursive)")
    p.add_argument("--dry_run", action="store_true", help="print what would change, change nothing")


def run(args) -> int:
    from ..inputs import IMAGE_SUFFIXES, image_files
    from ..photo_metadata import remove

    pictures: list[Path] = []
    for text in args.paths:
        path = Path(text).expanduser()
        if path.is_dir():
            pictures += image_files(path)
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            pictures.append(path)
        else:
            raise ConfigError(f"{text}: not a folder or a picture")
    changed = failed = 0
    for picture in pictures:
        try:
            for change in remove(picture, dry_run=args.dry_run):
                print(change.line(args.dry_run))
                changed += 1
        except InputError as exc:
            print(f"pyml: error: {exc}", file=sys.stderr)
            failed += 1
    done = "would change" if args.dry_run else "changed"
    print(f"pyml metadata remove: {len(pictures)} pictures looked at, {changed} files {done}, {failed} failed",
          file=sys.stderr)  # fmt: skip
    return 1 if failed else 0
