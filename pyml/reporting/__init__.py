"""`pyml report`: a batch run's JSONL results as one self-contained HTML page.

The page opens from file:// with no server and loads nothing from anywhere: the rows,
thumbnails (small JPEGs, base64) and the page's script and style are all inside it.
Thumbnails shrink as the run grows and stop at a size budget, so a report of 10,000
pictures stays a file a browser opens at once; pictures past the budget (or no longer
readable) show their name only.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..progress import progress_bar
from .pages import thumbnail, write_page

log = logging.getLogger(__name__)
BUDGET_BYTES = 40 << 20  # every thumbnail together


@dataclass
class Report:
    path: Path
    rows: int
    failed: int
    thumbnails: int
    size_bytes: int


def read_rows(results: str | Path) -> list[dict]:
    """The rows of a pyml batch output; a torn last line (a killed run) is skipped."""
    path = Path(results).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{results}: cannot read the results: {exc.strerror or exc}") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if number == len(lines):
                log.warning("%s: line %d is cut off (a killed run?); skipped", path, number)
                continue
            raise ConfigError(f"{path}: line {number} is not JSON: not a pyml batch output") from None
        if not isinstance(row, dict) or "img_path" not in row:
            raise ConfigError(f"{path}: line {number} has no img_path: not a pyml batch output")
        rows.append(row)
    if not rows:
        raise ConfigError(f"{path}: no results in it")
    return rows


def thumbnail_side(count: int) -> int:
    return 128 if count <= 2000 else 96 if count <= 5000 else 64


def _thumbnails(rows: list[dict], base: Path, budget: int, progress: bool) -> list[str | None]:
    side = thumbnail_side(len(rows))
    out: list[str | None] = [None] * len(rows)
    spent = 0
    unreadable = []
    with ThreadPoolExecutor() as pool, progress_bar(len(rows), "report thumbnails", enabled=progress) as bar:
        for i, thumb in enumerate(pool.map(lambda r: thumbnail(r["img_path"], side, base), rows)):
            bar.update(1)
            if thumb is None:
                unreadable.append(rows[i]["img_path"])
            if thumb is None or spent + len(thumb) > budget:
                continue
            out[i] = thumb
            spent += len(thumb)
    if unreadable:
        log.warning(
            "report: %d picture(s) are gone or unreadable, shown without a thumbnail (the first: %s)",
            len(unreadable),
            unreadable[0],
        )
    if spent >= budget * 0.99:
        log.warning("report: thumbnails stopped at the %d MB budget", budget >> 20)
    return out


def _error_text(error) -> str:
    """A row's error as the report shows it: pyml batch writes {reason, message}."""
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return error if isinstance(error, str) else json.dumps(error)


def _page_data(rows: list[dict], thumbs: list[str | None], title: str) -> dict:
    compact = []
    for row, thumb in zip(rows, thumbs):
        error = row.get("error")
        compact.append(
            {
                "n": row["img_path"],
                "l": list(row.get("label_names") or ()),
                "s": [round(float(s), 5) for s in row.get("scores") or ()],
                **({"e": _error_text(error)} if error is not None else {}),
                **({"t": thumb} if thumb else {}),
            }
        )
    scores = [s for row in rows for s in row.get("scores") or ()]
    return {
        "title": title,
        "minScore": float(np.min(scores)) if scores else 0.0,
        "rows": compact,
    }


def write_report(
    results: str | Path, output: str | Path | None = None, budget: int = BUDGET_BYTES, progress: bool = True
) -> Report:
    """Writes the HTML report of `results` (a pyml batch JSONL file) to `output`
    (default: beside it, `.html`); thumbnails are read from the paths in the rows
    (relative ones from the results file's folder or the working directory)."""
    results = Path(results).expanduser()
    rows = read_rows(results)
    output = Path(output).expanduser() if output else results.with_suffix(".html")
    thumbs = _thumbnails(rows, results.parent, budget, progress)
    data = _page_data(rows, thumbs, results.name)
    write_page("report.html", data, output)
    return Report(
        path=output,
        rows=len(rows),
        failed=sum("error" in r for r in rows),
        thumbnails=sum(t is not None for t in thumbs),
        size_bytes=output.stat().st_size,
    )


__all__ = ["Report", "read_rows", "write_report"]
