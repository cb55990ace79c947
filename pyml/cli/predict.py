"""The main job, with PaddleX's flags: `pyml --pipeline NAME|YAML --input PATH`, and
`--get_pipeline_config`."""

from __future__ import annotations

import argparse
import sys

from .common import (
    add_pipeline_options,
    backend_flags,
    confirm_overwrite,
    count_images,
    emit,
    label_filter_flags,
    layout,
    pipeline_overrides,
)

DESCRIPTION = "Multi-label image classification (PaddleX-compatible command line)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline", help="pipeline name or pipeline YAML path")
    p.add_argument("--input", help="image file, URL or folder")
    add_pipeline_options(p, "model_dir")
    p.add_argument(
        "--save_path",
        help="folder for <name>_res.json and <name>_res.<ext>; files of the same name are replaced, as PaddleX does",
    )
    add_pipeline_options(p, "device", "threshold", "top_k", "batch_size", "decode_mode")
    backend_flags(p)
    label_filter_flags(p)
    p.add_argument("--get_pipeline_config", metavar="NAME", help="write the pipeline's YAML")
    p.add_argument("--config_save_path", help="where --get_pipeline_config writes (default: .)")
    p.add_argument(
        "-y", "--yes", action="store_true", help="with --get_pipeline_config: replace an existing YAML without asking"
    )
    p.add_argument("-V", "--version", action="store_true", help="print pyml's version")


def _get_config(args) -> int:
    from ..pipeline_yaml import write_pipeline_config

    target_dir = args.config_save_path or args.save_path or "."
    try:
        path = write_pipeline_config(args.get_pipeline_config, target_dir, overwrite=False)
    except FileExistsError as exc:
        if not confirm_overwrite(str(exc), args.yes):
            return 2  # not done, as for any other argument the command cannot act on
        path = write_pipeline_config(args.get_pipeline_config, target_dir, overwrite=True)
    print(f"pipeline config written to {path}", file=sys.stderr)
    return 0


def _predict(args) -> int:
    from ..registry import create_pipeline

    options = pipeline_overrides(args, "model_dir", "device", "batch_size", "top_k", "decode_mode")
    pipeline = create_pipeline(args.pipeline, **options)
    from ..progress import progress_bar

    total = count_images(args.input)
    progress = progress_bar(total, "pyml", enabled=total > 4)
    try:
        results = pipeline.predict(args.input, threshold=args.threshold, on_error="return")
        failed = emit(results, layout(args.save_path, [args.input]), save_images=True, progress=progress)
    finally:
        progress.close()
    return 1 if failed else 0


def run(args) -> int:
    if args.get_pipeline_config:
        return _get_config(args)
    if not args.pipeline or not args.input:
        args.error(
            "--pipeline and --input are required (or use --get_pipeline_config); "
            "pyml --help lists the other commands (serve, batch, train, ...)"
        )
    return _predict(args)
