"""`pyml serve`: gRPC (pyml's service, KServe v2), PaddleX's HTTP API, metrics."""

from __future__ import annotations

import argparse

from .common import add_pipeline_options, backend_flags, pipeline_overrides, read_token

DESCRIPTION = "Serve pipelines over gRPC (pyml's service and KServe v2), and optionally PaddleX's HTTP API."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pipeline",
        action="append",
        required=True,
        help="NAME|YAML, or model_name=NAME|YAML; repeat to host several models (the first is the default)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051)
    add_pipeline_options(p, "device")
    backend_flags(p)
    p.add_argument("--max_batch_size", type=int, default=8)
    p.add_argument("--max_queue_delay_ms", type=float, default=5.0)
    p.add_argument("--max_queue", type=int, default=256, help="waiting requests before RESOURCE_EXHAUSTED")
    p.add_argument(
        "--instances",
        type=int,
        default=1,
        help="model instances per model, each running a batch "
        "at a time (default 1: one predictor using every core, preprocessing overlapped)",
    )
    p.add_argument("--max_message_mb", type=int, default=64)
    p.add_argument("--grace_s", type=float, default=30.0, help="drain time on SIGTERM/SIGINT")
    p.add_argument("--tls_cert", help="PEM certificate (with --tls_key: serve TLS)")
    p.add_argument("--tls_key", help="PEM private key")
    p.add_argument("--token_file", help="file holding a bearer token every call must carry")
    p.add_argument("--http_port", type=int, help="also serve PaddleX's HTTP API on this port (off unless given)")
    p.add_argument(
        "--allow_url_inputs",
        action="store_true",
        help="let HTTP/HPS requests name an image URL for the server to fetch (off: SSRF risk)",
    )
    p.add_argument(
        "--no_visualize",
        action="store_true",
        help="HTTP/HPS answers omit the drawn image unless a request asks (PaddleX: on)",
    )
    p.add_argument("--metrics_port", type=int, help="serve Prometheus metrics at /metrics on this port")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")


def run(args) -> int:
    import asyncio

    from ..registry import create_pipeline
    from ..serving import ServerOptions, run_server

    models = {}
    for spec in args.pipeline:
        name, sep, source = spec.partition("=")
        if not sep:
            name, source = "", spec
        pipeline = create_pipeline(source, **pipeline_overrides(args, "device"), batch_size=args.max_batch_size)
        models[name or pipeline.model.model_name] = pipeline
    options = ServerOptions(
        max_batch_size=args.max_batch_size,
        max_queue_delay_ms=args.max_queue_delay_ms,
        max_queue=args.max_queue,
        instances=args.instances,
        max_message_bytes=args.max_message_mb * 1024 * 1024,
        grace_s=args.grace_s,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        token=read_token(args.token_file),
        http_port=args.http_port,
        allow_url_inputs=args.allow_url_inputs,
        visualize=not args.no_visualize,
        metrics_port=args.metrics_port,
    )
    return asyncio.run(run_server(models, f"{args.host}:{args.port}", options))
