"""The `pyml` command, with PaddleX's flags.

    pyml --pipeline image_multilabel_classification --input photo.jpg [--device cpu]
         [--save_path out/] [--threshold 0.5] [--top_k 3] [--batch_size 8] [-y]
    pyml --get_pipeline_config image_multilabel_classification [--save_path DIR] [-y]
    pyml serve --pipeline image_multilabel_classification [--pipeline name=model.yaml ...]
    pyml --serve --pipeline NAME|YAML [--port 8080]    (PaddleX's form: --port is the HTTP port)
         [--host 127.0.0.1] [--port 50051] [--max_batch_size 8] [--max_queue_delay_ms 5] ...
    pyml client --target 127.0.0.1:50051 --input photo.jpg [--stream]
    pyml check_dataset DATASET
    pyml convert_dataset --from coco ANNOTATIONS.json IMAGES_DIR OUT_DIR
    pyml train DATASET --model ARCH --output OUT [--epochs --batch_size --lr ...] [--resume]
    pyml eval MODEL_DIR DATASET
    pyml convert MODEL_DIR [--force]
    pyml models
    pyml download NAME... [--pretrained]
    pyml batch INPUT... --output results.jsonl [--from_list FILE] [--resume [--retry_failed]] [--save_path DIR]
         [--ray ADDRESS | --ray_local N] [--workers N] [--cpus_per_worker N]

Results go to stdout, one per line; progress and errors go to stderr. Exit
status: 0 all images classified, 1 some images failed, 2 bad arguments, config
or model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .backends import PRECISIONS
from .config import DECODE_MODES
from .errors import ConfigError, InputError, PymlError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml", description="Multi-label image classification "
                                "(PaddleX-compatible command line).")
    p.add_argument("--pipeline", help="pipeline name or pipeline YAML path")
    p.add_argument("--input", help="image file, URL or folder")
    p.add_argument("--model_dir", help="a model directory to run in the pipeline instead of its own model "
                   "(e.g. pyml train's best_model/inference)")
    p.add_argument("--device", help="cpu (default), gpu, gpu:N")
    p.add_argument("--save_path", help="folder for <name>_res.json and <name>_res.<ext>")
    p.add_argument("--threshold", type=float, help="score threshold for every class")
    p.add_argument("--top_k", type=int, help="keep at most K labels per image")
    p.add_argument("--batch_size", type=int, help="images per inference batch")
    p.add_argument("--decode_mode", choices=DECODE_MODES, help="JPEG decode mode")
    _backend_flags(p)
    p.add_argument("--get_pipeline_config", metavar="NAME", help="write the pipeline's YAML")
    p.add_argument("--config_save_path", help="where --get_pipeline_config writes (default: .)")
    p.add_argument("-y", "--yes", action="store_true", help="overwrite files without asking")
    p.add_argument("-V", "--version", action="store_true", help="print pyml's version")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="paddle (default), openvino, onnxruntime, or auto (the fastest "
                   "measured on this machine whose scores match Paddle's)")
    p.add_argument("--precision", choices=PRECISIONS, help="fp32 (default) or bf16 "
                   "(CPUs with avx512_bf16/AMX; changes scores slightly)")
    p.add_argument("--use_hpip", action="store_true", help="PaddleX's fast-path switch: the same as "
                   "--backend auto (an explicit --backend wins)")


def _backend_of(args) -> str | None:
    from .config import hpi_backend

    return args.backend or hpi_backend(args.use_hpip or None, None, None, "--use_hpip")


def _confirm_overwrite(path: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        print(f"pyml: {path} exists; pass -y to overwrite it", file=sys.stderr)
        return False
    return input(f"{path} exists. Overwrite? [y/N] ").strip().lower() in ("y", "yes")


def _get_config(args) -> int:
    from .config import write_pipeline_config

    target_dir = args.config_save_path or args.save_path or "."
    try:
        path = write_pipeline_config(args.get_pipeline_config, target_dir, overwrite=False)
    except FileExistsError as exc:
        if not _confirm_overwrite(str(exc), args.yes):
            return 2  # not done, as for any other argument the command cannot act on
        path = write_pipeline_config(args.get_pipeline_config, target_dir, overwrite=True)
    print(f"pipeline config written to {path}", file=sys.stderr)
    return 0


def _count_images(text: str) -> int:
    from .inputs import image_files

    path = Path(text).expanduser()
    if path.is_dir():
        return len(image_files(path))
    return 1


def _predict(args) -> int:
    from .registry import create_pipeline

    extra = {"model_dir": args.model_dir} if args.model_dir else {}
    pipeline = create_pipeline(args.pipeline, device=args.device, batch_size=args.batch_size,
                               top_k=args.top_k, decode_mode=args.decode_mode, backend=_backend_of(args),
                               precision=args.precision, **extra)
    from .progress import progress_bar

    total = _count_images(args.input)
    progress = progress_bar(total, "pyml", enabled=total > 4)
    try:
        results = pipeline.predict(args.input, threshold=args.threshold, on_error="return")
        failed = _emit(results, _layout(args.save_path, [args.input]), save_images=True, progress=progress)
    finally:
        progress.close()
    return 1 if failed else 0


def _log_cause_chain(error: BaseException) -> None:
    """With --verbose: what the error came from (its kind, the input, and each cause)."""
    log = logging.getLogger("pyml.cli")
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug("%s: reason=%s source=%s index=%s", type(error).__name__, getattr(error, "reason", None),
              getattr(error, "source", None), getattr(error, "index", None))
    cause = error.__cause__ or error.__context__
    while cause is not None:
        log.debug("caused by %s: %s", type(cause).__name__, cause)
        cause = cause.__cause__ or cause.__context__


def _layout(save_path: str | None, inputs: list[str]):
    from .results import SaveLayout

    return SaveLayout(save_path, [], folders=inputs) if save_path else None


def _emit(results, layout, save_images: bool, progress=None) -> int:
    """Prints each result (stdout) or its error (stderr), saves into `layout` (a
    SaveLayout) if given; returns the failures."""
    from .progress import write

    failed = 0
    for result in results:
        if progress is not None:
            progress.update()
        if result.error is not None:
            failed += 1
            write(f"pyml: error: {result.error} (reason: {result.error.reason})", sys.stderr)
            _log_cause_chain(result.error)
            continue
        write(str(result))
        if layout is not None:
            layout.save(result, images=save_images)
    return failed


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml serve", description="Serve pipelines over gRPC (pyml's "
                                "service and KServe v2), and optionally PaddleX's HTTP API.")
    p.add_argument("--pipeline", action="append", required=True,
                   help="NAME|YAML, or model_name=NAME|YAML; repeat to host several models "
                        "(the first is the default)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051)
    p.add_argument("--device", help="cpu (default), gpu:N")
    _backend_flags(p)
    p.add_argument("--max_batch_size", type=int, default=8)
    p.add_argument("--max_queue_delay_ms", type=float, default=5.0)
    p.add_argument("--max_queue", type=int, default=256, help="waiting requests before RESOURCE_EXHAUSTED")
    p.add_argument("--instances", type=int, default=1, help="model instances per model, each running a batch "
                   "at a time (default 1: one predictor using every core, preprocessing overlapped)")
    p.add_argument("--max_message_mb", type=int, default=64)
    p.add_argument("--grace_s", type=float, default=30.0, help="drain time on SIGTERM/SIGINT")
    p.add_argument("--tls_cert", help="PEM certificate (with --tls_key: serve TLS)")
    p.add_argument("--tls_key", help="PEM private key")
    p.add_argument("--token_file", help="file holding a bearer token every call must carry")
    p.add_argument("--http_port", type=int, help="also serve PaddleX's HTTP API on this port (off unless given)")
    p.add_argument("--allow_url_inputs", action="store_true",
                   help="let HTTP/HPS requests name an image URL for the server to fetch (off: SSRF risk)")
    p.add_argument("--no_visualize", action="store_true",
                   help="HTTP/HPS answers omit the drawn image unless a request asks (PaddleX: on)")
    p.add_argument("--metrics_port", type=int, help="serve Prometheus metrics at /metrics on this port")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _client_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml client", description="Classify images on a pyml server.")
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--input", required=True, help="image file or folder")
    p.add_argument("--stream", action="store_true", help="one bidirectional stream for all images")
    p.add_argument("--model", default="", help="model name on the server (default: its first)")
    p.add_argument("--threshold", type=float)
    p.add_argument("--top_k", type=int)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--max_message_mb", type=int, default=64,
                   help="largest request to send (as the server's --max_message_mb); larger images are "
                        "reported, not sent")
    p.add_argument("--save_path")
    p.add_argument("--tls_ca", help="PEM of the CA that signed the server certificate (turns TLS on)")
    p.add_argument("--token_file", help="file holding the bearer token")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _read_token(path: str | None) -> str | None:
    # From a file, not the command line, so it does not show in `ps`.
    return Path(path).read_text(encoding="utf-8").strip() if path else None


def _serve(args) -> int:
    import asyncio

    from .registry import create_pipeline
    from .serving import ServerOptions, run_server

    models = {}
    for spec in args.pipeline:
        name, sep, source = spec.partition("=")
        if not sep:
            name, source = "", spec
        pipeline = create_pipeline(source, device=args.device, backend=_backend_of(args), precision=args.precision,
                                   batch_size=args.max_batch_size)
        models[name or pipeline.model.model_name] = pipeline
    options = ServerOptions(max_batch_size=args.max_batch_size, max_queue_delay_ms=args.max_queue_delay_ms,
                            max_queue=args.max_queue, instances=args.instances,
                            max_message_bytes=args.max_message_mb * 1024 * 1024,
                            grace_s=args.grace_s, tls_cert=args.tls_cert, tls_key=args.tls_key,
                            token=_read_token(args.token_file), http_port=args.http_port,
                            allow_url_inputs=args.allow_url_inputs, visualize=not args.no_visualize,
                            metrics_port=args.metrics_port)
    return asyncio.run(run_server(models, f"{args.host}:{args.port}", options))


def _client(args) -> int:
    from .serving import Client
    from .serving.client import check_options

    check_options(args.threshold, args.top_k)  # before connecting: a bad argument is rc 2, nothing sent
    if args.max_message_mb <= 0:
        raise ConfigError(f"--max_message_mb must be positive, not {args.max_message_mb}")
    with Client(args.target, timeout=args.timeout, tls_ca=args.tls_ca, token=_read_token(args.token_file),
                max_message_bytes=args.max_message_mb * 1024 * 1024) as client:
        if args.stream:
            results = client.classify_stream(args.input, model=args.model, threshold=args.threshold,
                                             top_k=args.top_k)
        else:  # one image's failure is its error line; the others still go
            results = client.classify(args.input, model=args.model, threshold=args.threshold,
                                      top_k=args.top_k, on_error="return")
        failed = _emit(results, _layout(args.save_path, [args.input]), save_images=False)
    return 1 if failed else 0


def _check_dataset_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml check_dataset", description="Check a PaddleX multi-label "
                                "dataset (images/, label.txt, train.txt, val.txt) and count its labels.")
    p.add_argument("dataset")
    p.add_argument("--all", action="store_true", help="list every problem (default: the first 50)")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _check_dataset(args) -> int:
    from .train import DatasetError, read_dataset

    try:
        print(read_dataset(args.dataset).summary())
    except DatasetError as exc:
        if not args.all:
            raise
        print(f"pyml: error: {exc.root}: {len(exc.problems)} problem(s) in the dataset:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return 0


def _convert_dataset_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml convert_dataset", description="Convert annotations "
                                "into a PaddleX multi-label dataset.")
    p.add_argument("--from", dest="source_format", choices=("coco",), required=True)
    p.add_argument("annotations", help="COCO JSON (instances) of the training images")
    p.add_argument("images_dir", help="folder the annotations' file_name entries are relative to")
    p.add_argument("out_dir", help="new folder for the dataset")
    p.add_argument("--val", help="COCO JSON of the validation images (default: split off --val_percent)")
    p.add_argument("--val_percent", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _convert_dataset(args) -> int:
    from .train import read_dataset
    from .train.coco import convert_coco

    out = convert_coco(args.annotations, args.images_dir, args.out_dir, args.val, args.val_percent, args.seed)
    print(read_dataset(out).summary())
    return 0


def _train_parser() -> argparse.ArgumentParser:
    from .train.calibrate import CALIBRATIONS
    from .train.data import DEFAULT_AUGMENT
    from .train.frozen import FREEZE_CHOICES
    from .train.networks import architectures

    p = argparse.ArgumentParser(prog="pyml train", description="Fine-tune a multi-label model on a "
                                "PaddleX multi-label dataset; the best epoch is exported as a model directory.")
    p.add_argument("dataset")
    p.add_argument("--model", choices=architectures(), metavar="ARCH",
                   help=f"architecture: {', '.join(architectures())} (with --from: read from the model)")
    p.add_argument("--output", required=True, help="folder for checkpoints, metrics and the exported model")
    p.add_argument("--epochs", type=int, help="total epochs (default 20; with --resume: the first run's)")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW peak learning rate (PaddleClas: 1e-4)")
    p.add_argument("--weight_decay", type=float, default=1e-4)
    p.add_argument("--warmup_epochs", type=float, help="linear warm-up (default: min(5, epochs/5))")
    p.add_argument("--input_size", type=int, help="square input side (default: 448; the demo network 64)")
    p.add_argument("--device", default="cpu", help="cpu (default), gpu:N where paddle has CUDA")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--pretrained", help="a .pdparams to start from, or an official model's name "
                       "(e.g. PP-LCNet_x1_0_ML: PaddleX's <NAME>_pretrained.pdparams, fetched once)")
    start.add_argument("--from", dest="from_dir", help="a model directory to fine-tune to this dataset's labels")
    p.add_argument("--augment", default=DEFAULT_AUGMENT, help="per-batch augmentations, comma-separated "
                   "(flip, color, cutout) or none")
    p.add_argument("--loss", choices=("asl", "bce"), default="asl",
                   help="asl: PaddleClas' asymmetric loss (default); bce: plain cross-entropy, whose "
                        "scores suit the 0.5 threshold better")
    p.add_argument("--threshold", type=float, default=0.5, help="score threshold written into inference.yml")
    p.add_argument("--calibrate", choices=CALIBRATIONS, help="f1: per-class thresholds that maximise each "
                   "class's F1 on val, written into the export's inference.yml (PaddleX applies them too)")
    p.add_argument("--freeze", choices=FREEZE_CHOICES, default="none", help="backbone: train the head only, "
                   "the backbone running on an inference backend (an order of magnitude faster on a CPU)")
    p.add_argument("--cache_features", action="store_true", help="with --freeze backbone: run the backbone "
                   "once per image, without augmentation, and keep its features on disk (float16)")
    p.add_argument("--backbone_backend", default="paddle", help="the inference backend of a frozen backbone "
                   "(default paddle: Paddle Inference with oneDNN)")
    p.add_argument("--patience", type=int, default=0, help="stop when val mAP has not improved for N epochs "
                   "(the best epoch is kept); 0: never")
    p.add_argument("--model_name", help="Global.model_name of the export (default: the architecture)")
    p.add_argument("--steps_per_epoch", type=int, help="cap the steps of an epoch (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


_TRAIN_FLAG_FIELDS = {"model": "arch", "from": "from_dir"}  # flag -> TrainOptions field where they differ


def _train(args) -> int:
    from .train import read_dataset
    from .train.networks import architecture_of
    from .train.trainer import Trainer, TrainingInterrupted, TrainOptions

    if not args.model and not args.resume:
        if not args.from_dir:
            raise ConfigError("--model is required (with --from or --resume it is read from the model or the run)")
        args.model = architecture_of(args.from_dir)
    dataset = read_dataset(args.dataset)  # fails before anything is written to --output
    print(dataset.summary(), file=sys.stderr)
    options = TrainOptions(arch=args.model or "", output=args.output, epochs=args.epochs or (0 if args.resume else 20),
                           batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                           warmup_epochs=args.warmup_epochs, input_size=args.input_size, device=args.device,
                           pretrained=args.pretrained, from_dir=args.from_dir, seed=args.seed,
                           augment=args.augment, loss=args.loss, threshold=args.threshold, model_name=args.model_name,
                           steps_per_epoch=args.steps_per_epoch, dataset=str(dataset.root), freeze=args.freeze,
                           cache_features=args.cache_features, backbone_backend=args.backbone_backend,
                           patience=args.patience, calibrate=args.calibrate)
    given = {_TRAIN_FLAG_FIELDS.get(flag, flag) for flag in args.given}
    trainer = Trainer(dataset, options, resume=args.resume, given=given)
    try:
        history = trainer.run(progress=not args.quiet)
    except TrainingInterrupted as exc:
        print(f"pyml: {exc}", file=sys.stderr)
        return 130
    print(training_summary(trainer.out, history))
    return 0


def training_summary(out: Path, history) -> str:
    """Where the model is, how good it is, and the line that uses it."""
    model_dir = out / "best_model" / "inference"
    lines = [f"best val mAP {history.best_map:.4f} at epoch {history.best_epoch}"
             + (" (stopped early)" if history.stopped_early else "") + f"; model: {model_dir}"]
    if history.calibration:
        at, cal = history.calibration["at_global"], history.calibration["calibrated"]
        lines.append(f"per-class thresholds written: macro F1 {at['macro_f1']:.4f} at "
                     f"{history.calibration['global_threshold']:g} -> {cal['macro_f1']:.4f} calibrated")
    lines.append(f"use it: pyml --pipeline image_multilabel_classification --model_dir {model_dir} --input IMAGE")
    return "\n".join(lines)


def _eval_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml eval", description="mAP and per-class AP of a model "
                                "directory on a dataset's val split.")
    p.add_argument("model_dir")
    p.add_argument("dataset")
    p.add_argument("--split", choices=("val", "train"), default="val")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--device")
    p.add_argument("--calibrate", choices=("f1",), help="f1: choose per-class thresholds that maximise each "
                   "class's F1 on the split, and report F1 before and after")
    p.add_argument("--write", action="store_true", help="with --calibrate: write the thresholds into the "
                   "model's inference.yml (PaddleX's per-class list)")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _eval(args) -> int:
    from .model_dir import load_model_dir
    from .train import read_dataset
    from .train.evaluate import evaluate_scores, model_dir_scores

    if args.write and not args.calibrate:
        raise ConfigError("--write writes calibrated thresholds: pass --calibrate f1 with it")
    model = load_model_dir(args.model_dir)  # the model's problems first: cheaper than reading a dataset
    dataset = read_dataset(args.dataset, splits=(args.split,))
    targets, scores = model_dir_scores(args.model_dir, dataset, args.split, args.batch_size, args.device)
    print(evaluate_scores(targets, scores).table(dataset.labels))
    if args.calibrate:
        from .train.calibrate import calibrate, write_thresholds

        default = model.threshold if isinstance(model.threshold, (int, float)) else 0.5
        calibration = calibrate(targets, scores, float(default))
        print("\n".join(calibration.lines(default)))
        width = max(8, *(len(n) for n in dataset.labels))
        for name, t in zip(dataset.labels, calibration.thresholds):
            print(f"  {name:<{width}}  {t:.4f}")
        if args.write:
            print(f"thresholds written into {write_thresholds(args.model_dir, calibration.thresholds)}")
        else:
            print("(not written: add --write to put them into the model's inference.yml)")
    return 0


def _batch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml batch", description="Tag a large collection: one JSON line "
                                "per image in --output, appended as it goes; --resume skips what is there.")
    p.add_argument("inputs", nargs="*", help="image files, folders (recursive) or URLs")
    p.add_argument("--output", required=True, help="the JSONL file of results")
    p.add_argument("--from_list", help="a text file of paths or URLs, one per line")
    p.add_argument("--pipeline", default="image_multilabel_classification",
                   help="pipeline name or pipeline YAML path (default: image_multilabel_classification, "
                        "PP-LCNet_x1_0_ML's 80 COCO labels; pyml_demo runs the offline demo model)")
    p.add_argument("--resume", action="store_true", help="skip every input already in --output")
    p.add_argument("--retry_failed", action="store_true",
                   help="with --resume: run again the inputs whose last attempt failed (their rows are "
                        "replaced, each image stays in --output once)")
    p.add_argument("--overwrite", action="store_true", help="start --output again from empty")
    p.add_argument("--save_path", help="also save <name>_res.json and <name>_res.<ext> here")
    p.add_argument("--device", help="cpu (default), gpu:N")
    p.add_argument("--batch_size", type=int, help="images per batch (and per write to --output)")
    p.add_argument("--threshold", type=float)
    p.add_argument("--top_k", type=int)
    p.add_argument("--decode_mode", choices=DECODE_MODES)
    _backend_flags(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--ray", metavar="ADDRESS", help="run on this Ray cluster (auto, HOST:PORT, ray://HOST:PORT)")
    where.add_argument("--ray_local", type=int, metavar="N", help="run on a local Ray cluster of N CPUs")
    p.add_argument("--workers", type=int, help="Ray actors, one pipeline each (default: CPUs / --cpus_per_worker)")
    p.add_argument("--cpus_per_worker", type=int, default=1, help="CPUs (and threads) per Ray actor")
    p.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _batch(args) -> int:
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite contradict each other")
    common = dict(inputs=args.inputs, output=args.output, from_list=args.from_list, resume=args.resume,
                  retry_failed=args.retry_failed,
                  overwrite=args.overwrite, batch_size=args.batch_size, threshold=args.threshold,
                  top_k=args.top_k, save_path=args.save_path, progress=not args.no_progress)
    if args.ray or args.ray_local:
        from .batch_ray import run_batch_on_ray

        summary = run_batch_on_ray(args.pipeline, address=args.ray, local_cpus=args.ray_local,
                                   workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                                   device=args.device, decode_mode=args.decode_mode, backend=_backend_of(args),
                                   precision=args.precision, **common)
    else:
        from .batch import run_batch
        from .registry import create_pipeline

        pipeline = create_pipeline(args.pipeline, device=args.device, decode_mode=args.decode_mode,
                                   backend=_backend_of(args), precision=args.precision)
        summary = run_batch(pipeline, **common)
    print(summary.line(), file=sys.stderr)
    return 1 if summary.failed else 0


def _convert_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml convert", description="Write MODEL_DIR/inference.onnx "
                                "(paddle2onnx + constant folding) for the openvino and onnxruntime backends.")
    p.add_argument("model_dir")
    p.add_argument("--force", action="store_true", help="convert again even if an up-to-date file is there")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _convert(args) -> int:
    from .backends.onnx_convert import convert, find_onnx, model_hash
    from .model_dir import load_model_dir

    model = load_model_dir(Path(args.model_dir))
    target = Path(model.model_file).parent / "inference.onnx"
    digest = model_hash(model.model_file, model.params_file)
    found = find_onnx(model.model_file, model.params_file, digest)
    if found == target and not args.force:
        print(f"pyml convert: {target} is up to date", file=sys.stderr)
        return 0
    convert(model.model_file, model.params_file, target, digest)
    print(f"pyml convert: wrote {target} ({target.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


def _models_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml models", description="The models pyml finds by name: "
                                "PaddleX's six official multi-label models and the demo, and where each is.")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _models(args) -> int:
    from .models import (
        DEMO_MODEL_NAME,
        OFFICIAL_MODELS,
        demo_model_dir,
        download_dir,
        find_local,
        mirror,
    )

    print(f"{'model':30s} {'mAP':>6s} {'MB':>6s}  on this machine")
    for model in OFFICIAL_MODELS.values():
        found = find_local(model.name)
        print(f"{model.name:30s} {model.map:6.2f} {model.size_mb:6.1f}  {found or '-'}")
    print(f"{DEMO_MODEL_NAME:30s} {'':>6s} {'':>6s}  {demo_model_dir()} (embedded; --pipeline pyml_demo)")
    print(f"mAP: COCO2017 multi-label, as PaddleX publishes it. Downloads go to {download_dir()} "
          f"from {mirror()}.", file=sys.stderr)
    return 0


def _download_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pyml download", description="Fetch official models ahead of "
                                "time (for building images, or for offline use later).")
    p.add_argument("names", nargs="+", metavar="NAME", help="official model names (see pyml models)")
    p.add_argument("--pretrained", action="store_true",
                   help="also fetch each one's training weights (<NAME>_pretrained.pdparams)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")
    return p


def _download(args) -> int:
    from .models import check_name, download_model, fetch_pretrained, find_local

    for name in args.names:  # every name is checked before anything downloads
        check_name(name, "pyml download")
    for name in args.names:
        found = find_local(name)
        if found is None:
            found = download_model(name, progress=not args.quiet)
        print(f"{name}: {found}")
        if args.pretrained:
            print(f"{name}: {fetch_pretrained(name, progress=not args.quiet)}")
    return 0


SUBCOMMANDS = {
    "serve": (_serve_parser, _serve),
    "client": (_client_parser, _client),
    "check_dataset": (_check_dataset_parser, _check_dataset),
    "convert_dataset": (_convert_dataset_parser, _convert_dataset),
    "train": (_train_parser, _train),
    "eval": (_eval_parser, _eval),
    "batch": (_batch_parser, _batch),
    "convert": (_convert_parser, _convert),
    "models": (_models_parser, _models),
    "download": (_download_parser, _download),
}


def _run_guarded(fn, args) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="pyml: %(levelname)s: %(name)s: %(message)s")
    try:
        return fn(args)
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

    if not argv or argv[0].startswith("-") or argv[0] in SUBCOMMANDS:
        return
    close = difflib.get_close_matches(argv[0], SUBCOMMANDS, n=1, cutoff=0.6)
    hint = f"; did you mean 'pyml {close[0]}'?" if close else f"; commands: {', '.join(SUBCOMMANDS)}"
    print(f"pyml: error: unknown command '{argv[0]}'{hint}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        from . import __version__

        print(f"pyml {__version__}")
        return 0
    _suggest_command(argv)
    if "--serve" in argv and (not argv or argv[0] not in SUBCOMMANDS):
        return _run_guarded(_serve, _serve_parser().parse_args(paddlex_serve_argv(argv)))
    if argv and argv[0] in SUBCOMMANDS:
        parser, run = SUBCOMMANDS[argv[0]]
        args = parser().parse_args(argv[1:])
        args.given = {a[2:].split("=", 1)[0] for a in argv[1:] if a.startswith("--")}  # flags typed
        return _run_guarded(run, args)
    args = _parser().parse_args(argv)
    return _run_guarded(_main_job, args)


def _main_job(args) -> int:
    if args.get_pipeline_config:
        return _get_config(args)
    if not args.pipeline or not args.input:
        _parser().error("--pipeline and --input are required (or use --get_pipeline_config)")
    return _predict(args)


if __name__ == "__main__":
    sys.exit(main())
