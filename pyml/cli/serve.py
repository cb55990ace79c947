"""`pyml serve`: gRPC (pyml's service, KServe v2), PaddleX's HTTP API, metrics."""

from __future__ import annotations

import argparse

from .common import add_pipeline_options, backend_flags, label_filter_flags, pipeline_overrides, read_token

DESCRIPTION = (
    "Serve pipelines over gRPC (pyml's service and KServe v2), and optionally PaddleX's HTTP API. "
    "Every door listens on --host: 127.0.0.1 (the default) takes connections from this machine only."
)
LOOPBACK = "127.0.0.1"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..flags import add_flags
    from ..serving.options import DEFAULT_MAX_MESSAGE_BYTES, ServerOptions

    p.add_argument(
        "--pipeline",
        action="append",
        help="NAME|YAML, or model_name=NAME|YAML; repeat to host several models (the first is the default); "
        "or --model_repository",
    )
    p.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"the address every door (gRPC, HTTP, metrics) listens on (default: {LOOPBACK}, this machine "
        "only); 0.0.0.0 takes connections from every network this machine is on: add --token_file and TLS",
    )
    p.add_argument("--port", type=int, default=50051, help="the gRPC port (default: 50051)")
    add_pipeline_options(
        p,
        "model_dir",
        "device",
        model_dir="a model directory to serve (e.g. pyml train's "
        "best_model/inference), with one --pipeline's settings or the demo's",
    )
    backend_flags(p)
    label_filter_flags(p)
    add_flags(p, ServerOptions)  # from its fields (pyml/serving/options.py)
    p.add_argument(
        "--max_message_mb",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES // 2**20,
        help=f"the largest request or answer, in MiB, on every door (default: {DEFAULT_MAX_MESSAGE_BYTES // 2**20})",
    )
    p.add_argument(
        "--token_file",
        help="file holding a bearer token every call must carry (gRPC metadata or HTTP header "
        "'authorization: Bearer <token>'); health checks, the try-it page's files and /docs stay open",
    )
    p.add_argument(
        "--no_visualize",
        action="store_true",
        help="HTTP/HPS answers omit the drawn image unless a request asks (PaddleX: on)",
    )


def run(args) -> int:
    import asyncio

    from ..config import DEFAULT_PIPELINE
    from ..errors import ConfigError
    from ..flags import flag_fields
    from ..registry import create_pipeline
    from ..serving import ServerOptions, run_server

    if not args.pipeline and not args.model_repository and not args.model_dir:
        raise ConfigError(
            "give the models to serve: --pipeline NAME|YAML (repeatable), --model_dir DIR or --model_repository DIR"
        )
    if args.model_dir and len(args.pipeline or ()) > 1:
        raise ConfigError("--model_dir replaces one pipeline's model: give at most one --pipeline with it")
    # a fresh cache's backend measurement must not hold back the first answer
    overrides = {**pipeline_overrides(args, "device"), "auto_measure": "while_serving"}
    model_dir = {"model_dir": args.model_dir} if args.model_dir else {}  # not a repository model's override
    models = {}
    for spec in args.pipeline or ([DEFAULT_PIPELINE] if args.model_dir else []):
        name, sep, source = spec.partition("=")
        if not sep:
            name, source = "", spec
        pipeline = create_pipeline(source, **overrides, **model_dir, batch_size=args.max_batch_size)
        models[name or pipeline.model.model_name] = pipeline
    options = ServerOptions(
        **{option.name: getattr(args, option.name) for option in flag_fields(ServerOptions)},
        max_message_bytes=args.max_message_mb * 1024 * 1024,
        token=read_token(args.token_file),
        visualize=not args.no_visualize,
        pipeline_overrides={k: v for k, v in overrides.items() if v is not None},
    )
    return asyncio.run(run_server(models, f"{args.host}:{args.port}", options))
