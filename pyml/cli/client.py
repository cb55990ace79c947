"""`pyml client`: classify images on a running pyml server."""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import emit, layout, read_token

DESCRIPTION = "Classify images on a pyml server."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--input", required=True, help="image file or folder")
    p.add_argument("--stream", action="store_true", help="one bidirectional stream for all images")
    p.add_argument("--model", default="", help="model name on the server (default: its first)")
    p.add_argument("--version", default="", help="the model's version (default: the one it serves by default)")
    p.add_argument("--threshold", type=float)
    p.add_argument("--top_k", type=int)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument(
        "--max_message_mb",
        type=int,
        default=64,
        help="largest request to send (as the server's --max_message_mb); larger images are reported, not sent",
    )
    p.add_argument("--save_path")
    p.add_argument("--tls_ca", help="PEM of the CA that signed the server certificate (turns TLS on)")
    p.add_argument("--token_file", help="file holding the bearer token")


def run(args) -> int:
    from ..serving import Client
    from ..serving.client import check_options

    check_options(args.threshold, args.top_k)  # before connecting: a bad argument is rc 2, nothing sent
    if args.max_message_mb <= 0:
        raise ConfigError(f"--max_message_mb must be positive, not {args.max_message_mb}")
    with Client(
        args.target,
        timeout=args.timeout,
        tls_ca=args.tls_ca,
        token=read_token(args.token_file),
        max_message_bytes=args.max_message_mb * 1024 * 1024,
    ) as client:
        if args.stream:
            results = client.classify_stream(
                args.input, model=args.model, threshold=args.threshold, top_k=args.top_k, version=args.version
            )
        else:  # one image's failure is its error line; the others still go
            results = client.classify(
                args.input,
                model=args.model,
                threshold=args.threshold,
                top_k=args.top_k,
                on_error="return",
                version=args.version,
            )
        failed = emit(results, layout(args.save_path, [args.input]), save_images=False)
    return 1 if failed else 0
