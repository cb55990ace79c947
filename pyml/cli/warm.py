"""`pyml warm`: everything a server's first start would do for a model, done ahead of
time (in a container image's build, say): fetch it, convert it to ONNX, and measure and
remember `backend: auto`'s choice. A server started later on the same kind of machine
(the same CPU and core count) then loads the remembered winner at once."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = (
    "Prepare models ahead of time: fetch, convert to ONNX, and measure and remember backend auto's choice, "
    "so a server's first start loads the winner at once."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..serving.options import ServerOptions

    batch = ServerOptions.max_batch_size
    p.add_argument("models", nargs="+", metavar="MODEL", help="pipeline names, pipeline YAMLs or model directories")
    p.add_argument(
        "--batch_size",
        type=int,
        default=batch,
        help=f"the batch the server will run: its --max_batch_size (default: {batch}, pyml serve's); "
        "the choice is remembered per batch shape",
    )
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="the precision the server will run")


def run(args) -> int:
    from ..backends.onnx_convert import cache_dir
    from ..registry import create_pipeline

    for spec in args.models:
        where = {"model_dir": spec} if Path(spec).is_dir() else {"pipeline": spec}
        pipeline = create_pipeline(**where, batch_size=args.batch_size, precision=args.precision)
        choice = getattr(pipeline._backend, "auto_choice", None)
        if choice is None:
            print(f"{spec}: {pipeline.backend_name} (named by its config: nothing to measure)")
            continue
        timed = ", ".join(f"{name} {ms:g} ms" for name, ms in choice["ms"].items())
        how = "remembered already" if choice.get("remembered") else f"measured: {timed}"
        print(f"{spec}: {pipeline.backend_name} ({how}; batch {args.batch_size}, {args.precision})")
    print(f"remembered in {cache_dir() / 'auto.json'}")
    return 0
