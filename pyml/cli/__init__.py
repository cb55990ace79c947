"""The `pyml` command, with PaddleX's flags; one module per subcommand, each with
`DESCRIPTION`, `add_arguments(parser)` and `run(args)`.

    pyml --pipeline image_multilabel_classification --input photo.jpg [--device cpu]
         [--save_path out/] [--threshold 0.5] [--top_k 3] [--batch_size 8]
    pyml --get_pipeline_config image_multilabel_classification [--save_path DIR] [-y]
    pyml serve --pipeline image_multilabel_classification [--pipeline name=model.yaml ...]
    pyml --serve --pipeline NAME|YAML [--port 8080]    (PaddleX's form: --port is the HTTP port)
         [--host 127.0.0.1] [--port 50051] [--max_batch_size 8] [--max_queue_delay_ms 5] ...
    pyml client --target 127.0.0.1:50051 --input photo.jpg [--stream]
    pyml report RESULTS.jsonl [--output report.html]
    pyml check_dataset DATASET
    pyml convert_dataset --from coco ANNOTATIONS.json IMAGES_DIR OUT_DIR
    pyml train DATASET --model ARCH --output OUT [--epochs --batch_size --lr ...] [--resume]
    pyml eval MODEL_DIR DATASET
    pyml convert MODEL_DIR [--force]
    pyml quantize MODEL_DIR --calibration IMAGES [--samples 300] [--dataset DATASET]
    pyml models [list|load|unload NAME --target HOST:PORT]
    pyml download NAME... [--pretrained]
    pyml warm MODEL... [--batch_size 8]
    pyml batch INPUT... --output results.jsonl [--from_list FILE] [--resume [--retry_failed]] [--save_path DIR]
         [--ray ADDRESS | --ray_local N] [--workers N] [--cpus_per_worker N] [--metadata sidecar|embed [--dry_run]]
    pyml metadata remove PATH... [--dry_run]

Results go to stdout, one per line; progress and errors go to stderr. Exit
status: 0 all images classified, 1 some images failed, 2 bad arguments, config
or model.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import InputError, PymlError, use_command_line_advice
from . import (
    batch,
    check_dataset,
    client,
    convert,
    convert_dataset,
    download,
    eval,  # noqa: A004 (the subcommand's name)
    metadata,
    models,
    predict,
    quantize,
    report,
    serve,
    train,
    warm,
)

# name -> (module, the one line `pyml --help` shows)
COMMANDS = {
    "serve": (serve, "serve models over gRPC, KServe v2 and PaddleX's HTTP API"),
    "client": (client, "classify images on a running pyml server"),
    "batch": (batch, "tag a large collection into a JSONL file, resumably, here or on Ray"),
    "report": (report, "an HTML report of a batch run: label counts, a filterable gallery"),
    "metadata": (metadata, "take pyml's keywords out of pictures and sidecars (pyml batch --metadata wrote them)"),
    "train": (train, "fine-tune a model on your labelled images"),
    "eval": (eval, "mAP of a model directory on a dataset; --calibrate f1 per-class thresholds"),
    "check_dataset": (check_dataset, "check a PaddleX multi-label dataset and count its labels"),
    "convert_dataset": (convert_dataset, "turn COCO annotations into a PaddleX multi-label dataset"),
    "convert": (convert, "write a model directory's ONNX file (openvino, onnxruntime backends)"),
    "quantize": (quantize, "make an int8 model for precision int8 (NNCF), with its agreement report"),
    "models": (models, "the models pyml finds by name; with --target, a server's: list, load, unload"),
    "download": (download, "fetch official models (and their training weights) ahead of time"),
    "warm": (warm, "fetch, convert and measure models ahead of time, so a server's first start is fast"),
}


def command_parser(name: str) -> argparse.ArgumentParser:
    module = COMMANDS[name][0]
    parser = argparse.ArgumentParser(prog=f"pyml {name}", description=module.DESCRIPTION)
    module.add_arguments(parser)
    add_verbose(parser)
    return parser


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """The one flag every command has."""
    parser.add_argument("--verbose", action="store_true", help="log details and show tracebacks")


def main_parser() -> argparse.ArgumentParser:
    """The PaddleX-style top level; its --help lists the subcommands too."""
    width = max(map(len, COMMANDS))
    listing = "\n".join(f"  {name:<{width}}  {line}" for name, (_, line) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="pyml",
        description=predict.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"commands (pyml COMMAND --help for each):\n{listing}\n\n"
        "pyml --serve --pipeline NAME [--port 8080] is PaddleX's form of pyml serve.",
    )
    predict.add_arguments(parser)
    add_verbose(parser)
    return parser


def run_guarded(fn, args) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="pyml: %(levelname)s: %(name)s: %(message)s"
    )
    try:
        return fn(args)
    except BrokenPipeError:
        return _stdout_closed()
    except InputError as exc:
        if args.verbose:
            raise
        print(f"pyml: error: {exc}", file=sys.stderr)
        return 1
    except (PymlError, OSError) as exc:
        if args.verbose:
            raise
        print(f"pyml: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


SIGPIPE_STATUS = 128 + 13  # what a shell reports for a command ended by SIGPIPE


def _stdout_closed() -> int:
    """The reader of stdout went away (`pyml ... | head -1`): stop quietly, as other
    command-line tools do. stdout is pointed at /dev/null so that Python's own flush at
    exit does not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return SIGPIPE_STATUS


PADDLEX_SERVE_PORT = 8080  # `paddlex --serve`'s default HTTP port


def paddlex_serve_argv(argv: list[str]) -> list[str]:
    """`pyml --serve --pipeline X [--port P]`, PaddleX's serving command, as `pyml serve`
    arguments: its --port is the HTTP port (PaddleX serves HTTP only); gRPC keeps 50051
    unless --grpc_port says otherwise."""
    rest, http_port, grpc_port = [], str(PADDLEX_SERVE_PORT), None
    items = iter(a for a in argv if a != "--serve")
    for arg in items:
        flag, eq, value = arg.partition("=")
        if flag in ("--port", "--grpc_port"):
            value = value if eq else next(items, "")
            if flag == "--port":
                http_port = value
            else:
                grpc_port = value
        else:
            rest.append(arg)
    return [*rest, "--http_port", http_port, *(["--port", grpc_port] if grpc_port else [])]


def _suggest_command(argv: list[str]) -> None:
    """`pyml trian ...`: an unknown word where a subcommand goes is an error naming the
    closest subcommand, not argparse's 'unrecognized arguments'."""
    import difflib

    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return
    close = difflib.get_close_matches(argv[0], COMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean 'pyml {close[0]}'?" if close else f"; commands: {', '.join(COMMANDS)}"
    print(f"pyml: error: unknown command '{argv[0]}'{hint}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    use_command_line_advice()
    if argv[:1] in (["--version"], ["-V"]):
        from .. import __version__

        print(f"pyml {__version__}")
        return 0
    _suggest_command(argv)
    if "--serve" in argv and (not argv or argv[0] not in COMMANDS):
        return run_guarded(serve.run, command_parser("serve").parse_args(paddlex_serve_argv(argv)))
    if argv and argv[0] in COMMANDS:
        args = command_parser(argv[0]).parse_args(argv[1:])
        args.given = {a[2:].split("=", 1)[0] for a in argv[1:] if a.startswith("--")}  # flags typed
        return run_guarded(COMMANDS[argv[0]][0].run, args)
    parser = main_parser()
    args = parser.parse_args(argv)
    args.error = parser.error
    return run_guarded(predict.run, args)
