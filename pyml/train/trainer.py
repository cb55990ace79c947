"""`pyml train`: fine-tuning in Paddle's dynamic graph, one epoch at a time.

    OUT/
      train_config.json                 the run's options (--resume reads them back)
      checkpoints/epoch_K/              weights, optimizer + schedule state, history after epoch K
      checkpoints/latest                the name of the newest complete checkpoint
      best_model/best_model.pdparams    the best epoch's weights (by val mAP)
      best_model/inference/             the best epoch as a PaddleX model directory
      metrics.json, training_curve.png  per-epoch loss and val mAP / per-class AP

The recipe follows PaddleClas' multi-label configs (asymmetric loss, AdamW, linear
warm-up then cosine decay, learning rate 1e-4) with what a CPU budget allows: no EMA
of the weights and no RandAugment (see docs/training.md). Each epoch
is seeded by (seed, epoch), and checkpoints are written whole or not at all, so
`--resume` after an interruption (Ctrl-C included) gives the weights an uninterrupted
run would have.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_dir, atomic_write_text
from ..catalogue import OFFICIAL_MODELS
from ..downloads import fetch_pretrained
from ..errors import ConfigError
from ..progress import progress_bar, write
from .checkpoints import load_checkpoint, save_checkpoint
from .data import BatchLoader, parse_augment
from .dataset import Dataset
from .evaluate import evaluate_scores
from .learning import LearningCheck, advice_for, frequency_baseline_map, score_spread
from .networks import DEMO_ARCH, build_network
from .options import TrainOptions
from .report import History, write_metrics
from .weights import inference_state, load_matching

log = logging.getLogger(__name__)
REPORT_NAME = "eval_report.html"  # the best model's evaluation page, written at the end of a run


def random_start_warning(o: TrainOptions) -> str | None:
    """The line said when a PaddleX architecture starts from random weights: PaddleX always
    starts from pretrained ones, and from scratch on a CPU these networks learn next to
    nothing in the epochs a fine-tune takes (measured: PP-LCNet_x1_0_ML on 2,400 demo
    pictures, val mAP 0.37 after 10 epochs, the label frequencies' level)."""
    if o.pretrained or o.from_dir or o.arch == DEMO_ARCH:
        return None
    frozen = " and --freeze backbone keeps them random" if o.freeze == "backbone" else ""
    start = f"--pretrained {o.arch}" if o.arch in OFFICIAL_MODELS else "--pretrained FILE.pdparams"
    return (
        f"warning: {o.arch} starts from random weights (no --pretrained or --from){frozen}; "
        f"from scratch it needs far more pictures and epochs than a fine-tune. Start from {start}"
    )


def _set_device(device: str) -> None:
    from ..backends.device import parse_device, usable_cores
    from ..backends.paddle import check_device, import_paddle

    paddle = import_paddle()
    parsed = parse_device(device)
    check_device(parsed)
    paddle.set_device("cpu" if parsed.kind == "cpu" else f"{parsed.kind}:{parsed.index}")
    # Paddle's dynamic graph computes on one CPU thread unless told (small convnet, batch 32:
    # 33 img/s on one thread, 39 on two, on this project's 2-core machine).
    paddle.base.core.set_num_threads(usable_cores())


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up from base/100 over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return base * (0.01 + 0.99 * step / warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


class Trainer:
    def __init__(
        self, dataset: Dataset, options: TrainOptions, resume: bool = False, given: set[str] | None = None
    ) -> None:
        """given: the option fields the caller set explicitly; with resume, one that
        differs from the recorded run is refused rather than silently ignored."""
        from ..backends.paddle import import_paddle

        import_paddle()  # first, so that paddle's import is quiet wherever it is imported next
        self.dataset = dataset
        self.out = Path(options.output).expanduser()
        self.resume = resume
        if resume:
            saved = self.out / "train_config.json"
            if not saved.is_file():
                raise ConfigError(f"{self.out}: nothing to resume (no train_config.json)")
            recorded = json.loads(saved.read_text())
            options = options.for_resume(recorded, given or set(), str(self.out))
        elif (self.out / "checkpoints").exists():
            raise ConfigError(
                f"{self.out} already holds a training run; pass --resume to continue it, or choose another --output"
            )
        self.options = options.resolved()
        self.augment = parse_augment(self.options.augment)
        self.report: Path | None = None  # the evaluation page, once a run has ended

    # -- setup --------------------------------------------------------------

    def _build(self):
        import paddle

        o = self.options
        _set_device(o.device)
        paddle.seed(o.seed)
        network = build_network(o.arch, self.dataset.num_classes)
        notes = []
        if o.pretrained:
            path = Path(o.pretrained).expanduser()
            if not path.is_file() and o.pretrained in OFFICIAL_MODELS:
                path = fetch_pretrained(o.pretrained)  # PaddleX's training start, cached
            if not path.is_file():
                raise ConfigError(
                    f"--pretrained {path}: no such file, and not an official model name ({', '.join(OFFICIAL_MODELS)})"
                )
            count, fresh = load_matching(network, paddle.load(str(path)), str(path))
            notes.append(f"{count} tensors from {path}; {len(fresh)} initialised fresh")
        if o.from_dir:
            model_dir = Path(o.from_dir).expanduser()
            count, fresh = load_matching(network, inference_state(model_dir, network), str(model_dir))
            notes.append(
                f"{count} tensors from {model_dir}; {len(fresh)} initialised fresh"
                + (f" ({', '.join(fresh[:4])}{' ...' if len(fresh) > 4 else ''})" if fresh else "")
            )
        network.train()
        return network, notes

    def _loaders(self):
        o = self.options
        train = BatchLoader(
            self.dataset.splits["train"],
            o.input_size,
            o.batch_size,
            o.seed,
            shuffle=True,
            augment=self.augment,
            threads=o.threads,
        )
        val = BatchLoader(self.dataset.splits["val"], o.input_size, o.batch_size, o.seed, threads=o.threads)
        return train, val

    # -- the loop --------------------------------------------------------------

    def run(self, progress: bool = True, stop_after: int | None = None) -> History:
        """Trains to options.epochs, or stops after epoch `stop_after` (resumable, as after Ctrl-C)."""
        from paddle.utils import unique_name

        # A fresh name scope: the optimizer's accumulators are named after generated counters
        # (conv2d_0.w_0_moment1_0), which must be the same in a resumed run as in the first.
        with warnings.catch_warnings(), unique_name.guard():
            # paddle warns at every train() that batch norm tracks global statistics: known, and noise.
            warnings.filterwarnings("ignore", message="When training, we now always track global mean")
            history = self._run(progress, stop_after or self.options.epochs)
        if history.epochs:
            self.report = self._write_report()
        return history

    def _write_report(self) -> Path:
        """OUT/eval_report.html: the best model on the val split (pyml eval --report's page),
        scored by Paddle Inference as PaddleX would run the export."""
        from ..reporting.evaluation import report_models

        return report_models(
            [self.out / "best_model" / "inference"],
            self.dataset,
            self.out / REPORT_NAME,
            "val",
            self.dataset.targets("train"),
            device=self.options.device,
            backend="paddle",
        )

    def _steps(self, network, progress: bool):
        from ..backends.device import parse_device, usable_cores
        from .steps import FrozenSteps, FullSteps

        o = self.options
        train, val = self._loaders()
        if o.freeze != "backbone":
            on_cpu = parse_device(o.device).kind == "cpu"
            return FullSteps(network, train, val, usable_cores() if on_cpu else None)
        return FrozenSteps(
            o.arch,
            network,
            train,
            val,
            o.backbone_backend,
            o.threads,
            self.out / "feature_cache" if o.cache_features else None,
            progress,
        )

    def _run(self, progress: bool, last_epoch: int) -> History:

        from .loss import LOSSES

        o = self.options
        loss_fn = LOSSES[o.loss]
        network, notes = self._build()
        self.out.mkdir(parents=True, exist_ok=True)
        steps_kind = self._steps(network, progress)
        try:
            return self._epochs(network, steps_kind, loss_fn, notes, progress, last_epoch)
        finally:
            steps_kind.close()

    def _epochs(self, network, steps_kind, loss_fn, notes, progress: bool, last_epoch: int) -> History:
        import paddle

        o = self.options
        loader = steps_kind.train
        steps = min(loader.steps(), o.steps_per_epoch or loader.steps())
        plan = _Plan(steps, steps * o.epochs, round(o.warmup_epochs * steps))
        optimizer = paddle.optimizer.AdamW(
            learning_rate=o.lr, parameters=steps_kind.parameters(), weight_decay=o.weight_decay
        )
        start_epoch, history = 0, History()
        if self.resume:
            start_epoch, history = load_checkpoint(self.out / "checkpoints", network, optimizer)
        self.learning = self._learning_check(history)
        if not self.resume:
            atomic_write_text(self.out / "train_config.json", json.dumps(asdict(o), indent=1))
        for note in notes:
            log.info("%s", note)
        warning = random_start_warning(o)
        if warning and not self.resume:
            write(warning, sys.stderr)
        write(f"training: {steps_kind.description}", sys.stderr)
        if start_epoch >= o.epochs:
            log.info("already trained for %d epochs", start_epoch)
        bar = progress_bar(
            plan.total, "pyml train", unit="step", enabled=progress, initial=start_epoch * steps, mininterval=0.5
        )
        with _StopRequest() as stop:
            try:
                for epoch in range(start_epoch + 1, min(o.epochs, last_epoch) + 1):
                    if self._patience_spent(history):
                        break
                    trained = self._train_epoch(epoch, steps_kind, optimizer, loss_fn, plan, bar, stop)
                    self._validate(epoch, network, steps_kind, history, {**trained, "lr": optimizer.get_lr()})
                    save_checkpoint(self.out / "checkpoints", epoch, network, optimizer, history)
                    self._write_metrics(history)
                if self._patience_spent(history):
                    history.stopped_early = True
                    self._write_metrics(history)
                    write(
                        f"stopped early: val mAP has not improved for {o.patience} epochs "
                        f"(best {history.best_map:.4f} at epoch {history.best_epoch})",
                        sys.stderr,
                    )
            except KeyboardInterrupt:
                bar.close()
                done = len(history.epochs)
                raise TrainingInterrupted(
                    f"interrupted; {self.out} holds the checkpoint of epoch {done}"
                    + (f" and the best model (epoch {history.best_epoch})" if done else "")
                    + f". Continue with: pyml train {o.dataset or 'DATASET'} --output {self.out} --resume"
                ) from None
        bar.close()
        return history

    def _train_epoch(self, epoch: int, steps_kind, optimizer, loss_fn, plan: _Plan, bar, stop) -> dict:
        """One epoch's training steps; returns its mean loss, images/s and seconds."""
        import paddle

        o = self.options
        paddle.seed(o.seed * 100003 + epoch)  # dropout etc.: the same draws with or without a resume
        started, seen, losses = time.perf_counter(), 0, []
        for k, (inputs, targets) in enumerate(steps_kind.batches(epoch)):
            if k >= plan.steps:
                break
            optimizer.set_lr(lr_at((epoch - 1) * plan.steps + k, plan.total, plan.warmup, o.lr))
            loss = loss_fn(steps_kind.logits(paddle.to_tensor(inputs)), paddle.to_tensor(targets))
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            losses.append(float(loss))
            seen += len(inputs)
            bar.update(1)
            if stop.requested:  # Ctrl-C: stop here, between steps
                raise KeyboardInterrupt
            rate = seen / (time.perf_counter() - started)
            bar.set_postfix_str(f"epoch {epoch}/{o.epochs} loss {losses[-1]:.4f} {rate:.1f} img/s", refresh=False)
        seconds = time.perf_counter() - started
        return {
            "loss": float(np.mean(losses)),
            "train_images_per_s": round(seen / seconds, 2),
            "train_seconds": round(seconds, 2),
        }

    def _learning_check(self, history: History) -> LearningCheck:
        """The check of whether this run learns, replayed over the epochs a resumed run had."""
        o = self.options
        check = LearningCheck(
            frequency_baseline_map(self.dataset.targets("train"), self.dataset.targets("val")),
            advice_for(bool(o.pretrained or o.from_dir), o.lr, o.epochs),
        )
        for record in history.epochs:
            if "val_score_spread" in record:
                check.after_validation(record["epoch"], record["val"]["mAP"], record["val_score_spread"])
        history.baseline_map, history.not_learning = check.baseline_map, check.verdict
        return check

    def _validate(self, epoch: int, network, steps_kind, history: History, trained: dict) -> None:
        """Scores the val split, records the epoch, exports the network when it is the best,
        and says so (once) when the run is not learning."""
        targets, scores = steps_kind.val_scores()
        evaluation = evaluate_scores(targets, scores)
        spread = score_spread(scores)
        record = {
            "epoch": epoch,
            **trained,
            "val": evaluation.as_dict(self.dataset.labels),
            "val_score_spread": round(spread, 6),
        }
        history.epochs.append(record)
        # The first epoch always counts, so a model is exported even when mAP is undefined.
        improved = history.best_epoch == 0 or evaluation.mAP > history.best_map
        if improved:
            history.best_epoch, history.best_map = epoch, evaluation.mAP
            history.calibration = self._export_best(network, targets, scores)
        # always shown (--quiet hides only the bar), on stderr beside the bar
        write(
            f"epoch {epoch}/{self.options.epochs}: loss {record['loss']:.4f}, val mAP "
            f"{evaluation.mAP:.4f}{' (best)' if improved else ''}, {record['train_images_per_s']:.1f} img/s",
            sys.stderr,
        )
        warning = self.learning.after_validation(epoch, evaluation.mAP, spread)
        history.not_learning = self.learning.verdict
        if warning:
            write(warning, sys.stderr)

    def _patience_spent(self, history: History) -> bool:
        patience = self.options.patience
        return bool(patience) and bool(history.epochs) and history.epochs[-1]["epoch"] - history.best_epoch >= patience

    def _export_best(self, network, val_targets: np.ndarray, val_scores: np.ndarray) -> dict | None:
        """Exports the network as best_model/; with --calibrate f1, its thresholds are the
        per-class ones chosen on these val scores. Returns the calibration's report."""
        import paddle

        from .calibrate import calibrate
        from .export import save_model_dir

        o = self.options
        calibration = calibrate(val_targets, val_scores, o.threshold) if o.calibrate == "f1" else None
        with atomic_dir(self.out / "best_model") as staging:
            paddle.save(network.state_dict(), str(staging / "best_model.pdparams"))
            save_model_dir(
                network,
                staging / "inference",
                o.model_name,
                self.dataset.labels,
                o.input_size,
                o.threshold,
                architecture=o.arch,
                categories=self.dataset.categories,
            )
            if calibration is not None:
                from .calibrate import write_thresholds

                write_thresholds(staging / "inference", calibration.thresholds)
        return None if calibration is None else calibration.as_dict(self.dataset.labels, o.threshold)

    def _write_metrics(self, history: History) -> None:
        o = self.options
        write_metrics(
            self.out,
            history,
            {
                "arch": o.arch,
                "model_name": o.model_name,
                "dataset": str(self.dataset.root),
                "labels": self.dataset.labels,
                "input_size": o.input_size,
                "model_dir": str(self.out / "best_model" / "inference"),
                "freeze": o.freeze,
            },
        )


@dataclass(frozen=True)
class _Plan:
    """The step schedule of a run: steps per epoch, in all, and of warm-up."""

    steps: int
    total: int
    warmup: int


class TrainingInterrupted(Exception):
    """Ctrl-C during training; the message says what is saved and how to continue."""


class _StopRequest:
    """Ctrl-C (SIGINT) while training: noted by a handler and acted on between steps.
    Raised straight from the signal, KeyboardInterrupt can land inside a finalizer (a
    weakref callback), where Python prints and drops it and training goes on (seen in
    CI). A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


__all__ = ["History", "TrainOptions", "Trainer", "TrainingInterrupted", "lr_at"]
