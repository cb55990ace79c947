"""What several commands share: the backend flags, the overwrite prompt, printing and saving results."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def add_pipeline_options(p: argparse.ArgumentParser, *names: str, **helps: str) -> None:
    """Flags for pipeline settings, defined once in PipelineConfig's fields (type, choices,
    help); `helps` replaces a flag's help where a command means something more. Every
    flag defaults to None: the pipeline config decides."""
    from ..config import PipelineConfig
    from ..flags import add_flags

    add_flags(p, PipelineConfig, names, defaults=False, helps=helps)


def label_filter_flags(p: argparse.ArgumentParser) -> None:
    """--include_labels, --exclude_labels, --include_categories, --exclude_categories, --label_names."""
    from ..label_filter import KINDS

    add_pipeline_options(p, *KINDS, "label_names")


def backend_flags(p: argparse.ArgumentParser) -> None:
    add_pipeline_options(p, "backend", "precision")
    p.add_argument(
        "--use_hpip",
        action="store_true",
        help="PaddleX's fast-path switch: the same as --backend auto (an explicit --backend wins)",
    )


def pipeline_overrides(args, *names: str) -> dict:
    """The pipeline options a command's flags set, for create_pipeline: the named ones
    (None: the config decides), and the backend flags (--use_hpip resolved into a backend)."""
    from ..config import hpi_backend
    from ..label_filter import KINDS

    backend = args.backend or hpi_backend(args.use_hpip or None, None, None, "--use_hpip")
    filters = {kind: getattr(args, kind) for kind in (*KINDS, "label_names") if getattr(args, kind, None) is not None}
    return {**{name: getattr(args, name) for name in names}, **filters, "backend": backend, "precision": args.precision}


def confirm_overwrite(path: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"pyml: {path} exists; pass -y to overwrite it", file=sys.stderr)
        return False
    return input(f"{path} exists. Overwrite? [y/N] ").strip().lower() in ("y", "yes")


def count_images(text: str) -> int:
    from ..inputs import image_files

    path = Path(text).expanduser()
    if path.is_dir():
        return len(image_files(path))
    return 1


def log_cause_chain(error: BaseException) -> None:
    """With --verbose: what the error came from (its kind, the input, and each cause)."""
    log = logging.getLogger("pyml.cli")
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug(
        "%s: reason=%s source=%s index=%s",
        type(error).__name__,
        getattr(error, "reason", None),
        getattr(error, "source", None),
        getattr(error, "index", None),
    )
    cause = error.__cause__ or error.__context__
    while cause is not None:
        log.debug("caused by %s: %s", type(cause).__name__, cause)
        cause = cause.__cause__ or cause.__context__


def layout(save_path: str | None, inputs: list[str]):
    from ..results import SaveLayout

    return SaveLayout(save_path, [], folders=inputs) if save_path else None


def emit(results, layout, save_images: bool, progress=None) -> int:
    """Prints each result (stdout) or its error (stderr), saves into `layout` (a
    SaveLayout) if given; returns the failures."""
    from ..progress import write

    failed = 0
    for result in results:
        if progress is not None:
            progress.update()
        if result.error is not None:
            failed += 1
            write(f"pyml: error: {result.error} (reason: {result.error.reason})", sys.stderr)
            log_cause_chain(result.error)
            continue
        write(str(result))
        if layout is not None:
            layout.save(result, images=save_images)
    return failed


def read_token(path: str | None) -> str | None:
    # From a file, not the command line, so it does not show in `ps`.
    return Path(path).read_text(encoding="utf-8").strip() if path else None
