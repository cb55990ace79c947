"""int8 models: post-training quantization with NNCF, and where the result is kept.

`pyml quantize` reads the model's converted ONNX file (onnx_convert), lets NNCF
(`pip install 'pyml[int8]'`) insert int8 quantize/dequantize pairs calibrated on the
user's pictures, and saves the OpenVINO model as
`$PYML_CACHE_DIR/int8/<model hash>/model.xml` (+ `.bin`), beside the cached fp32
ONNX file and keyed the same way, with `quantize.json` recording the calibration set
and the agreement report. `precision: int8` on the openvino backend loads it; retrained
weights have another hash, so a stale int8 model is never used for them.

The agreement report is part of the product, not a debugging aid: int8 moves scores,
and whether it moves label sets depends on the network and the pictures. It compares
fp32 and int8 OpenVINO on pictures held out of calibration.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_dir, atomic_write_text
from ..errors import BackendError, ConfigError, InputError
from .onnx_convert import cache_dir, model_hash, onnx_for

log = logging.getLogger(__name__)
MODEL_XML = "model.xml"
REPORT_JSON = "quantize.json"
AGREEMENT_BAR = 0.99  # below this share of equal label sets the report says int8 is not safe
# Fewer held-out pictures than this cannot tell 99% from 95%: the agreement figure is then
# marked as not a judgement, and the model is not called safe.
MIN_HELD_OUT = 50
SPEED_BATCH = 8


def int8_folder(model_file: Path, params_file: Path) -> Path:
    return cache_dir() / "int8" / model_hash(model_file, params_file)


def find_int8(model_file: Path, params_file: Path) -> Path | None:
    xml = int8_folder(model_file, params_file) / MODEL_XML
    return xml if xml.is_file() else None


def missing_int8_message(model_dir: Path) -> str:
    return (
        f"precision int8: no int8 model for {model_dir} (or its weights changed since it was quantized); "
        f"make one with: pyml quantize {model_dir} --calibration IMAGES"
    )


def import_nncf():
    try:
        import nncf  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(f"pyml quantize needs NNCF ({exc}): pip install 'pyml[int8]'") from exc
    return nncf


@dataclass
class QuantizeReport:
    model_dir: str
    int8_model: str
    calibration_images: int
    calibration_digest: str
    head: str  # fp32: the matrix products stayed unquantized
    held_out_images: int
    label_sets_equal: float  # share of held-out pictures whose label set int8 leaves unchanged
    max_abs_score_diff: float
    mean_abs_score_diff: float
    seconds: float
    map_fp32: float | None = None
    map_int8: float | None = None
    # model alone on this CPU, batch SPEED_BATCH, images/s: fp32, int8, and bf16 where the CPU has it
    images_per_second: dict[str, float] = field(default_factory=dict)
    bf16_label_sets_equal: float | None = None  # the same comparison for OpenVINO bf16, where it runs
    skipped_images: list[str] = field(default_factory=list)  # pictures that did not decode, left out

    @property
    def judged(self) -> bool:
        """Whether enough pictures were held out for the agreement figure to mean something."""
        return self.held_out_images >= MIN_HELD_OUT

    @property
    def safe(self) -> bool:
        return self.judged and self.label_sets_equal >= AGREEMENT_BAR

    def lines(self) -> list[str]:
        out = [
            f"int8 model: {self.int8_model}",
            f"calibrated on {self.calibration_images} pictures in {self.seconds:.1f} s (head {self.head})",
            f"held-out pictures: {self.held_out_images}; label sets equal to fp32's on "
            f"{100 * self.label_sets_equal:.2f}%",
            f"score difference: max {self.max_abs_score_diff:.4f}, mean {self.mean_abs_score_diff:.5f}",
        ]
        out.extend(self._speed_lines())
        if self.map_fp32 is not None:
            out.append(
                f"mAP on the dataset's val split: fp32 {self.map_fp32:.4f}, int8 {self.map_int8:.4f} "
                f"(change {self.map_int8 - self.map_fp32:+.4f})"
            )
        if not self.judged:
            out.append(
                f"WARNING: {self.held_out_images} held-out picture(s) are too few to judge int8 by (at least "
                f"{MIN_HELD_OUT} are needed, so give --calibration at least {2 * MIN_HELD_OUT} pictures); "
                "the agreement above is not a verdict"
            )
        elif not self.safe:
            out.append(
                f"WARNING: int8 changes the label set of {100 * (1 - self.label_sets_equal):.1f}% of the "
                f"held-out pictures (the bar is {100 * AGREEMENT_BAR:.0f}% unchanged); check its answers "
                "before using precision int8 for this model"
            )
        return out

    def _speed_lines(self) -> list[str]:
        speed = self.images_per_second
        if not speed:
            return []
        out = [
            f"model alone on this CPU, batch {SPEED_BATCH}, images/s: "
            + ", ".join(f"{name} {rate:.1f}" for name, rate in speed.items())
            + f" (int8 {speed['int8'] / speed['fp32']:.2f}x fp32)"
        ]
        bf16 = self.bf16_label_sets_equal
        if bf16 is not None:
            out.append(f"bf16 for comparison: label sets equal to fp32's on {100 * bf16:.2f}%")
        # On CPUs with bf16 instructions bf16 can beat int8 (LCNet's depthwise convolutions
        # gain little from int8): say so when it wins on both counts.
        bf16_wins = bf16 is not None and speed.get("bf16", 0) >= speed["int8"] and bf16 >= self.label_sets_equal
        if bf16_wins and bf16 >= AGREEMENT_BAR:
            out.append("bf16 is as fast as int8 here and keeps as many label sets: prefer precision bf16")
        elif bf16_wins:
            out.append(
                "bf16 is as fast as int8 here and keeps as many label sets, but it too changes more "
                f"than the bar allows ({100 * AGREEMENT_BAR:.0f}% unchanged): neither is safe for this model"
            )
        if speed["int8"] <= speed["fp32"]:
            out.append("int8 is not faster than fp32 on this CPU: it costs answers and buys no speed here")
        return out


def split_pictures(pictures: list[Path], samples: int, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """(calibration, held out): a seeded shuffle. At least a fifth (and one) is held out to
    judge the result on, and at least MIN_HELD_OUT where that leaves half to calibrate on;
    calibration takes up to `samples` of the rest."""
    if len(pictures) < 2:
        raise ConfigError(f"pyml quantize: need at least 2 calibration pictures, found {len(pictures)}")
    order = np.random.default_rng(seed).permutation(len(pictures))
    shuffled = [pictures[i] for i in order]
    held = max(1, len(pictures) // 5, min(MIN_HELD_OUT, len(pictures) // 2))
    count = min(samples, len(pictures) - held)
    return shuffled[:count], shuffled[count:]


def decodable(pictures: list[Path]) -> tuple[list[Path], list[str]]:
    """(the pictures that decode, one 'path: reason' per picture that does not), checked
    before calibration so that one bad file neither stops NNCF halfway nor goes unsaid."""
    from ..inputs import decode_file  # noqa: PLC0415

    good, bad = [], []
    for path in pictures:
        try:
            decode_file(path)
        except (InputError, OSError) as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            bad.append(f"{path}: {reason}")
        else:
            good.append(path)
    return good, bad


def _digest(pictures: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(pictures):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


class _Tensors:
    """Pictures preprocessed exactly as the pipeline does, one [1, 3, H, W] array each."""

    def __init__(self, spec) -> None:
        from .. import _native  # noqa: PLC0415

        self._pre = _native.Preprocessor(_native.PreprocessSpec(**spec.preprocess, decode_mode="exact"), threads=0)

    def of(self, path: Path) -> np.ndarray:
        try:
            return self._pre.run([path.read_bytes()])
        except (InputError, OSError) as exc:
            raise InputError(
                f"calibration picture {path}: {exc}; remove it or leave it out of --calibration",
                source=str(path),
            ) from None


def _judge(backends: dict, tensors: _Tensors, pictures: list[Path]) -> dict[str, np.ndarray]:
    """Scores of every held-out picture under each backend, with a progress bar (on a
    terminal): for a 448-pixel model this is as long as the calibration itself."""
    from ..progress import progress_bar  # noqa: PLC0415

    scores: dict[str, list[np.ndarray]] = {name: [] for name in backends}
    desc = f"judging int8 against {', '.join(n for n in backends if n != 'int8')}"
    with progress_bar(len(pictures), desc, unit="img") as bar:
        for picture in pictures:
            tensor = tensors.of(picture)
            for name, backend in backends.items():
                scores[name].append(backend(tensor))
            bar.update()
    return {name: np.concatenate(rows) for name, rows in scores.items()}


def _speed(backends: dict, tensors: _Tensors, pictures: list[Path]) -> dict[str, float]:
    """images/s of each backend on one batch of held-out pictures, timed in turns
    (auto.median_ms) so load on the machine slows them alike."""
    from .auto import median_ms  # noqa: PLC0415

    chosen = [pictures[i % len(pictures)] for i in range(SPEED_BATCH)]
    batch = np.concatenate([tensors.of(p) for p in chosen])
    return {name: round(SPEED_BATCH * 1000 / ms, 1) for name, ms in median_ms(backends, batch).items()}


def _label_sets_equal(fp32: np.ndarray, int8: np.ndarray, threshold) -> float:
    threshold = np.broadcast_to(np.asarray(threshold, np.float64), fp32.shape[-1:])
    return float(np.mean(np.all((fp32 > threshold) == (int8 > threshold), axis=1)))


# What NNCF quantizes. Measured on the demo model (the one trained model here), 300
# calibration and 1,000 held-out pictures, label sets equal to fp32's: everything int8
# 98.7%, MIXED preset (asymmetric activations) 98.9%, matrix products (the linear or
# ML-Decoder head) kept fp32 99.1%, both 99.3%. Keeping the head fp32 costs speed on
# ML-Decoder networks (PP-LCNet at 448, batch 8, model alone: 173 -> 113 images/s), so
# `head="int8"` quantizes it too for users who measured that it is good enough.
HEAD_CHOICES = ("fp32", "int8")


def _nncf_options(nncf, head: str) -> dict:
    options = {"preset": nncf.QuantizationPreset.MIXED}
    if head == "fp32":
        options["ignored_scope"] = nncf.IgnoredScope(types=["MatMul"], validate=False)
    return options


def quantize(
    model_dir: str | Path, pictures: list[Path], samples: int = 300, dataset=None, head: str = "fp32"
) -> QuantizeReport:
    """Quantizes the model in `model_dir` on `pictures` (split by split_pictures) and
    returns the agreement report; with a pyml/PaddleX dataset also mAP before and after.
    `head`: fp32 keeps the matrix products (the classification head) unquantized."""
    if head not in HEAD_CHOICES:
        raise ConfigError(f"pyml quantize: head must be one of {', '.join(HEAD_CHOICES)}, not {head!r}")
    from ..model_dir import load_model_dir  # noqa: PLC0415
    from .device import parse_device  # noqa: PLC0415
    from .openvino import OpenVinoBackend, _import_openvino  # noqa: PLC0415

    nncf = import_nncf()
    # NNCF logs its INFO lines to stdout, where the report goes; pyml's --verbose shows them.
    logging.getLogger("nncf").setLevel(logging.INFO if log.isEnabledFor(logging.DEBUG) else logging.WARNING)
    ov = _import_openvino()
    spec = load_model_dir(Path(model_dir))
    pictures, skipped = decodable(pictures)
    if skipped:
        log.warning(
            "left out %d picture(s) that do not decode (the first: %s)%s",
            len(skipped),
            skipped[0],
            "" if log.isEnabledFor(logging.DEBUG) else "; --verbose lists them",
        )
        for line in skipped:
            log.debug("not decodable: %s", line)
    calibration, held_out = split_pictures(pictures, samples)
    tensors = _Tensors(spec)
    start = time.perf_counter()
    onnx_file = onnx_for(spec.model_file, spec.params_file)
    model = ov.Core().read_model(str(onnx_file))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # NNCF draws its progress on stdout, where results go
            quantized = nncf.quantize(
                model,
                nncf.Dataset(calibration, tensors.of),
                subset_size=len(calibration),
                fast_bias_correction=True,
                **_nncf_options(nncf, head),
            )
    except InputError:
        raise  # a picture that cannot be read, named (from _Tensors.of)
    except Exception as exc:  # NNCF reports graph problems as many exception types
        raise BackendError(f"NNCF could not quantize {onnx_file}: {exc}") from exc
    target = int8_folder(spec.model_file, spec.params_file)
    with atomic_dir(target) as staging:
        ov.save_model(quantized, str(staging / MODEL_XML), compress_to_fp16=False)
    seconds = time.perf_counter() - start

    device = parse_device("cpu")
    backends = {
        "fp32": OpenVinoBackend(spec.model_file, spec.params_file, device),
        "int8": OpenVinoBackend(spec.model_file, spec.params_file, device, precision="int8"),
    }
    with contextlib.suppress(BackendError):  # no bf16 instructions: nothing to compare int8 with
        backends["bf16"] = OpenVinoBackend(spec.model_file, spec.params_file, device, precision="bf16")
    scores = _judge(backends, tensors, held_out)
    a, b = scores["fp32"], scores["int8"]
    diff = np.abs(a - b)
    report = QuantizeReport(
        model_dir=str(model_dir),
        int8_model=str(target / MODEL_XML),
        calibration_images=len(calibration),
        calibration_digest=_digest(calibration),
        head=head,
        held_out_images=len(held_out),
        label_sets_equal=_label_sets_equal(a, b, spec.threshold),
        max_abs_score_diff=float(diff.max()),
        mean_abs_score_diff=float(diff.mean()),
        seconds=seconds,
        images_per_second=_speed(backends, tensors, held_out),
        bf16_label_sets_equal=_label_sets_equal(a, scores["bf16"], spec.threshold) if "bf16" in scores else None,
        skipped_images=skipped,
    )
    if dataset is not None:
        from ..train.evaluate import evaluate_model_dir  # noqa: PLC0415

        report.map_fp32 = evaluate_model_dir(model_dir, dataset, backend="openvino").mAP
        report.map_int8 = evaluate_model_dir(model_dir, dataset, backend="openvino", precision="int8").mAP
    atomic_write_text(target / REPORT_JSON, json.dumps(asdict(report), indent=1))
    return report


__all__ = ["AGREEMENT_BAR", "QuantizeReport", "find_int8", "int8_folder", "missing_int8_message", "quantize"]
