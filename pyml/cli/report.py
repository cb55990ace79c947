"""`pyml report`: the HTML report of a `pyml batch` run."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Write a self-contained HTML report of a pyml batch run's RESULTS.jsonl: counts and score "
    "histograms per label, a thumbnail gallery with filters by label, failure and name, and a "
    "threshold slider. It opens from file:// with no server."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", help="the JSONL file pyml batch wrote")
    p.add_argument("--output", help="the HTML file (default: RESULTS with .html)")
    p.add_argument(
        "--max_thumbnail_mb", type=int, default=40, help="size budget of all thumbnails together (default 40)"
    )
    p.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")


def print_written(report) -> None:
    print(
        f"pyml report: wrote {report.path} ({report.rows} pictures, {report.failed} failed, "
        f"{report.thumbnails} thumbnails, {report.size_bytes / 1e6:.1f} MB)",
        file=sys.stderr,
    )


def run(args) -> int:
    from ..errors import ConfigError
    from ..reporting import write_report

    if args.max_thumbnail_mb < 0:
        raise ConfigError(f"--max_thumbnail_mb must be >= 0, not {args.max_thumbnail_mb}")
    print_written(write_report(args.results, args.output, args.max_thumbnail_mb << 20, not args.no_progress))
    return 0
