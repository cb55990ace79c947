"""Check the architecture exports in a folder in Paddle Inference, oneDNN on and off.

    python -m tools.check_exports DIR [--models M ...] [--export] [--runs 5]

Checks the exports DIR holds (folders named after the six architectures); `--export`
first exports the ones asked for (`--models`, default all six: about 920 MB) that are
missing. Prints, per model: parameters, file size, single-image latency at 448x448 on
the CPU with oneDNN on and off, and whether the output is [1, 80] probabilities.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pyml.backends import create_backend, parse_device
from tools.export_arch import ARCHITECTURES, INPUT_SIZE, build_network, export


def latency_ms(backend, runs: int) -> tuple[float, np.ndarray]:
    x = np.random.default_rng(0).standard_normal((1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    out = backend(x)  # warm-up: graph optimisation, oneDNN kernel creation
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backend(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, metavar="DIR")
    parser.add_argument("--models", nargs="*", choices=list(ARCHITECTURES), help="default: those in DIR")
    parser.add_argument("--export", action="store_true", help="export the asked-for models DIR lacks first")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    present = [name for name in ARCHITECTURES if (args.out_dir / name / "inference.pdiparams").is_file()]
    wanted = args.models or (list(ARCHITECTURES) if args.export else present)
    missing = [name for name in wanted if name not in present]
    if missing and not args.export:
        parser.error(f"{args.out_dir} has no export of {', '.join(missing)}; pass --export to make them")
    if not wanted:
        parser.error(f"{args.out_dir} holds none of {', '.join(ARCHITECTURES)}; pass --export to make them")
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()

    print(f"paddlepaddle {paddle.__version__}")
    print(f"{'model':<30}{'params (M)':>11}{'size (MB)':>10}{'oneDNN on ms':>14}{'off ms':>9}  output")
    for name in wanted:
        model_dir = args.out_dir / name
        if name in missing:
            print(f"exporting {name} into {model_dir}", flush=True)
            export(name, model_dir)
        params = sum(int(np.prod(p.shape)) for p in build_network(name, seed=0).parameters())
        size_mb = sum(f.stat().st_size for f in model_dir.iterdir()) / 1e6
        cells = []
        out = None
        for mkldnn in (True, False):
            try:
                backend = create_backend(
                    "paddle",
                    model_dir / "inference.json",
                    model_dir / "inference.pdiparams",
                    parse_device("cpu"),
                    enable_mkldnn=mkldnn,
                )
                ms, out = latency_ms(backend, args.runs)
                cells.append(f"{ms:.1f}")
            except Exception as exc:  # report and go on: this is a survey
                cells.append("FAIL")
                print(f"  {name} oneDNN={'on' if mkldnn else 'off'}: {type(exc).__name__}: {exc}")
        ok = out is not None and out.shape == (1, 80) and out.min() >= 0 and out.max() <= 1
        print(
            f"{name:<30}{params / 1e6:>11.2f}{size_mb:>10.1f}{cells[0]:>14}{cells[1]:>9}  "
            f"{'[1, 80] in [0, 1]' if ok else 'BAD'}"
        )


if __name__ == "__main__":
    main()
