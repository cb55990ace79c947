"""The one rule for "this backend gives Paddle's answers", used by `backend: auto` and
by the tests.

Two float32 runtimes never agree to the last bit: they sum in different orders and
fuse different operations, and which order a runtime picks depends on the CPU's
instruction set. How far rounding moves the scores depends on the network (how much
it amplifies a float32 rounding error through its depth), not on the CPU; a wrong
operator, layout or precision moves them much further. So the rule is a fixed
tolerance per architecture, set from the network's measured float32 sensitivity,
far above rounding and far below a defect, never a ratio of two measured noises:

- scores agree when |candidate - reference| <= atol + rtol * |reference|, every row
  and class (scores, not logits: the exported graphs end in their sigmoid);
- label sets agree when every class is on the same side of the threshold, ignoring
  a class whose reference score lies within the tolerance of the threshold (there
  rounding alone may flip it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

from ..catalogue import OFFICIAL_MODELS
from .device import cpu_description


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def allowed(self, reference: np.ndarray) -> np.ndarray:
        return np.asarray(self.atol + self.rtol * np.abs(reference))


# By inference.yml's Global.model_name: about ten times the network's own float32
# sensitivity, the largest |score difference| between float32 and float64 forward
# passes of the same weights on photos, rounded up. That sensitivity is a property of
# the network and its inputs, not of the CPU: every correct float32 runtime, whatever
# its summation order or instruction set, lands within about it of the exact answer,
# so two of them within about twice it of each other. Measured on pyml's calibrated
# random-weight exports (tools/export_arch.py; docs/backends.md, "Choosing a backend"), which are
# more sensitive than trained weights: deep BatchNorm networks with random weights
# amplify rounding layer by layer (2e-7 after the stem, 5e-5 after HGNetV2-B4's last
# stage) even with their statistics calibrated. A defect (a wrong operator, layout,
# channel order or precision) moves scores by 1e-2 to 1e-1 and more.
DEFAULT_TOLERANCE = Tolerance(rtol=0.0, atol=1e-5)  # the printed fifth decimal
TOLERANCES: dict[str, Tolerance] = {
    "pyml-demo-digits_ML": DEFAULT_TOLERANCE,  # trained; measured < 1e-6
    **{name: Tolerance(rtol=0.0, atol=m.parity_atol) for name, m in OFFICIAL_MODELS.items()},  # pyml/catalogue.py
}
RUNTIMES = ("paddlepaddle", "openvino", "onnxruntime")


def tolerance_for(model_name: str | None) -> Tolerance:
    return TOLERANCES.get(model_name or "", DEFAULT_TOLERANCE)


def runtime_versions() -> str:
    found = []
    for name in RUNTIMES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} absent")
    return ", ".join(found)


@dataclass
class ParityReport:
    """What comparing a candidate's scores with the reference's found."""

    tolerance: Tolerance
    max_abs_diff: float
    worst: tuple[int, int]  # (row, class) of the largest excess over the tolerance
    scores_agree: bool
    label_flips: list[tuple[int, int]] = field(default_factory=list)  # (row, class) on other sides

    @property
    def ok(self) -> bool:
        return self.scores_agree and not self.label_flips

    def describe(self, candidate: str = "candidate", reference: str = "paddle") -> str:
        verdict = "agrees with" if self.ok else "differs from"
        row, cls = self.worst
        text = (
            f"{candidate} {verdict} {reference}: max |diff| {self.max_abs_diff:.2e} "
            f"(allowed {self.tolerance.atol:g} + {self.tolerance.rtol:g}*|score|; worst at row {row}, "
            f"class {cls})"
        )
        if self.label_flips:
            text += (
                f"; {len(self.label_flips)} label(s) on the other side of the threshold, first {self.label_flips[0]}"
            )
        return text

    def failure_message(self, candidate: str = "candidate", reference: str = "paddle") -> str:
        """describe() plus the machine, for a report from someone else's CPU."""
        return f"{self.describe(candidate, reference)}; CPU {cpu_description()}; {runtime_versions()}"


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    model_name: str | None = None,
    threshold: float | np.ndarray = 0.5,
    tolerance: Tolerance | None = None,
) -> ParityReport:
    """Applies the rule to two [N, num_classes] score arrays of the same inputs."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"score shapes differ: {reference.shape} vs {candidate.shape}")
    tolerance = tolerance or tolerance_for(model_name)
    diff = np.abs(candidate - reference)
    allowed = tolerance.allowed(reference)
    excess = diff - allowed
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.size else (0, 0)
    threshold = np.broadcast_to(np.asarray(threshold, dtype=np.float64), reference.shape[-1:])
    decided = np.abs(reference - threshold) > allowed
    flipped = decided & ((reference > threshold) != (candidate > threshold))
    return ParityReport(
        tolerance=tolerance,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        worst=(int(worst[0]), int(worst[1])),
        scores_agree=bool((excess <= 0).all()),
        label_flips=[(int(r), int(c)) for r, c in zip(*np.nonzero(flipped))],
    )


__all__ = [
    "DEFAULT_TOLERANCE",
    "TOLERANCES",
    "ParityReport",
    "Tolerance",
    "compare",
    "runtime_versions",
    "tolerance_for",
]
