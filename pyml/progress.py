"""The one progress bar of every long job (pyml --input DIR, batch, train, downloads):
tqdm on stderr, drawn only when stderr is a terminal (a log file gets no bar lines),
and lines written through `write` so that a result or an error never lands inside
the bar."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(total: int | None, desc: str, unit: str = "img", enabled: bool = True, **options: Any):
    """A tqdm bar; off when not enabled or when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not (enabled and on_terminal()),
        dynamic_ncols=True,
        **options,
    )


def write(text: str, file: TextIO | None = None) -> None:
    """Prints a line to `file` (stdout by default), clearing any bar first and drawing it after."""
    from tqdm import tqdm

    tqdm.write(text, file=file or sys.stdout)
    (file or sys.stdout).flush()
