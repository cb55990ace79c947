"""Writing files and folders whole or not at all: staged beside the target, then renamed
over it (`os.replace` is atomic on one filesystem), so a reader, a crash or Ctrl-C never
sees a half-written checkpoint, export, cache or config."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yields an empty staging folder (`.<name>.partial` beside `final`); when the block
    ends without an error it replaces `final`, otherwise it is removed."""
    final = Path(final)
    staging = final.with_name(f".{final.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)


def atomic_write_text(path: Path, text: str) -> Path:
    """Writes `text` to `path` (UTF-8) through a staging file of this process."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


__all__ = ["atomic_dir", "atomic_write_text"]
