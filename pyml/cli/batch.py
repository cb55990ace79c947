"""`pyml batch`: resumable tagging of a large collection, here or on Ray."""

from __future__ import annotations

import argparse
import sys

from ..config import DEFAULT_PIPELINE
from ..errors import ConfigError
from .common import add_pipeline_options, backend_flags, label_filter_flags, pipeline_overrides

DESCRIPTION = (
    "Tag a large collection: one JSON line per image in --output, appended as it goes; --resume skips what is there."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", help="image files, folders (recursive) or URLs")
    p.add_argument("--output", required=True, help="the JSONL file of results")
    p.add_argument("--from_list", help="a text file of paths or URLs, one per line")
    p.add_argument(
        "--pipeline",
        help="pipeline name or pipeline YAML path: image_multilabel_classification for photos "
        "(PP-LCNet_x1_0_ML's 80 COCO labels); without it, the offline demo model, as everywhere in pyml",
    )
    p.add_argument("--resume", action="store_true", help="skip every input already in --output")
    p.add_argument(
        "--retry_failed",
        action="store_true",
        help="with --resume: run again the inputs whose last attempt failed (their rows are "
        "replaced, each image stays in --output once)",
    )
    p.add_argument("--overwrite", action="store_true", help="start --output again from empty")
    p.add_argument("--save_path", help="also save <name>_res.json and <name>_res.<ext> here")
    add_pipeline_options(
        p,
        "model_dir",
        "device",
        "batch_size",
        "threshold",
        "top_k",
        "decode_mode",
        batch_size="images per batch (and per write to --output)",
    )
    backend_flags(p)
    label_filter_flags(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--ray", metavar="ADDRESS", help="run on this Ray cluster (auto, HOST:PORT, ray://HOST:PORT)")
    where.add_argument("--ray_local", type=int, metavar="N", help="run on a local Ray cluster of N CPUs")
    p.add_argument("--workers", type=int, help="Ray actors, one pipeline each (default: CPUs / --cpus_per_worker)")
    p.add_argument("--cpus_per_worker", type=int, default=1, help="CPUs (and threads) per Ray actor")
    p.add_argument("--report", metavar="HTML", help="at the end, write the HTML report of --output here (pyml report)")
    p.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--metadata",
        choices=("sidecar", "embed"),
        help="also write each picture's labels where photo tools read them: XMP keywords in a .xmp sidecar, "
        "or embedded (XMP, and IPTC where the format has it); pyml's own keywords only are replaced "
        "(pip install 'pyml[photos]')",
    )
    p.add_argument(
        "--dry_run",
        action="store_true",
        help="with --metadata: print what would change, write nothing (no metadata, no --output)",
    )


def run(args) -> int:
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other")
    common = dict(
        inputs=args.inputs,
        output=args.output,
        from_list=args.from_list,
        resume=args.resume,
        retry_failed=args.retry_failed,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        threshold=args.threshold,
        top_k=args.top_k,
        save_path=args.save_path,
        progress=not args.no_progress,
        metadata=args.metadata,
        dry_run=args.dry_run,
    )
    if args.dry_run and not args.metadata:
        raise ConfigError("--dry_run goes with --metadata: it shows what the metadata writes would change")
    if args.pipeline is None and args.model_dir:
        args.pipeline = DEFAULT_PIPELINE  # the pipeline's settings; the model is the directory given
    elif args.pipeline is None:
        args.pipeline = DEFAULT_PIPELINE
        print(
            f"pyml batch: no --pipeline: running the offline demo model ({DEFAULT_PIPELINE}); "
            "for photos, --pipeline image_multilabel_classification",
            file=sys.stderr,
        )
    if args.ray or args.ray_local:
        from ..batch_ray import run_batch_on_ray

        summary = run_batch_on_ray(
            args.pipeline,
            address=args.ray,
            local_cpus=args.ray_local,
            workers=args.workers,
            cpus_per_worker=args.cpus_per_worker,
            **pipeline_overrides(args, "model_dir", "device", "decode_mode"),
            **common,
        )
    else:
        from ..batch import run_batch
        from ..registry import create_pipeline

        pipeline = create_pipeline(args.pipeline, **pipeline_overrides(args, "model_dir", "device", "decode_mode"))
        summary = run_batch(pipeline, **common)
    if args.dry_run:
        print(f"pyml batch --dry_run: {summary.written} pictures looked at; nothing was written", file=sys.stderr)
        return 1 if summary.failed else 0
    print(summary.line(), file=sys.stderr)
    if args.report:
        from ..reporting import write_report
        from .report import print_written

        print_written(write_report(args.output, args.report, progress=not args.no_progress))
    return 1 if summary.failed else 0
