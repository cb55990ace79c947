"""`pyml models`: the models pyml finds by name, and where each is."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "The models pyml finds by name: PaddleX's six official multi-label models and the demo, and where each is. "
    "With --target, a running server's models: list, load NAME, unload NAME (its --model_repository)."
)
ACTIONS = ("list", "load", "unload")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=ACTIONS, help="with --target: what to do on the server")
    p.add_argument("name", nargs="?", help="the model to load or unload (a folder of the server's repository)")
    p.add_argument("--target", help="HOST:PORT of a running pyml serve (its gRPC port)")
    p.add_argument("--tls_ca", help="PEM of the CA that signed the server certificate (turns TLS on)")
    p.add_argument("--token_file", help="file holding the bearer token")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for a load (default: 600)")


def _on_server(args) -> int:
    from ..errors import ConfigError
    from ..serving import Client
    from .common import read_token

    if args.action in ("load", "unload") and not args.name:
        raise ConfigError(f"pyml models {args.action} needs the model's name")
    with Client(args.target, timeout=args.timeout, tls_ca=args.tls_ca, token=read_token(args.token_file)) as client:
        if args.action == "load":
            client.load_model(args.name, timeout=args.timeout)
            print(f"{args.name}: loaded", file=sys.stderr)
        elif args.action == "unload":
            client.unload_model(args.name, timeout=args.timeout)
            print(f"{args.name}: unloaded", file=sys.stderr)
        index = client.repository_index()
    width = max([5, *(len(m["name"]) for m in index)])
    print(f"{'model':{width}s} {'version':>7s}  state")
    for m in index:
        why = f" ({m['reason']})" if m["reason"] else ""
        print(f"{m['name']:{width}s} {m['version'] or '-':>7s}  {m['state']}{why}")
    return 0


def run(args) -> int:
    if args.action or args.target:
        from ..errors import ConfigError

        if not args.target:
            raise ConfigError(f"pyml models {args.action} works on a running server: pass --target HOST:PORT")
        args.action = args.action or "list"
        return _on_server(args)
    from ..downloads import mirror
    from ..models import DEMO_MODEL_NAME, OFFICIAL_MODELS, demo_model_dir, download_dir, find_local

    print(f"{'model':30s} {'mAP':>6s} {'MB':>6s}  on this machine")
    for model in OFFICIAL_MODELS.values():
        found = find_local(model.name)
        print(f"{model.name:30s} {model.map:6.2f} {model.size_mb:6.1f}  {found or '-'}")
    print(f"{DEMO_MODEL_NAME:30s} {'':>6s} {'':>6s}  {demo_model_dir()} (embedded; --pipeline pyml_demo)")
    print(
        f"mAP: COCO2017 multi-label, as PaddleX publishes it. Downloads go to {download_dir()} from {mirror()}.",
        file=sys.stderr,
    )
    return 0
