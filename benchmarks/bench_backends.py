"""pyml's model backends and precisions against PaddleX at its default, in one process.

    python -m benchmarks.bench_backends [--models PP-LCNet_x1_0_ML PP-HGNetV2-B0_ML] [--repeats 3]
    python -m benchmarks.bench_backends --models all --backends auto --sizes 640x480 --batches 8  # the six

(`python -m benchmarks.run --suite all` runs it too and puts the table in RESULTS.md.)
Per model, input size (640x480, 12 MP) and batch (1, 8): end-to-end images/s of
PaddleX's `create_model(...).predict` (Paddle Inference, oneDNN fp32: its default) and
of pyml (exact decode) with each backend and precision this machine can run, the ratio
to PaddleX, the model alone on a ready batch (the limit of an end-to-end run with that
backend and precision on this machine) and the share of it end to end reaches, and the
largest score difference from
PaddleX over labels both kept plus how many pictures got a different label set.
End-to-end times are taken in rounds where PaddleX and then each pyml row take turns
(benchmarks.measure.interleaved_median_seconds), so a drift in the machine's speed
moves every row of a table alike. PaddleX is also timed in consecutive runs first, as a
user would run it alone; the ratios divide by the faster of its two readings, and the
table prints both.
"""

from __future__ import annotations

import argparse
import os
import sys

BACKENDS = [
    ("paddle", "fp32"),
    ("openvino", "fp32"),
    ("onnxruntime", "fp32"),
    ("auto", "fp32"),  # the default: what a user who names nothing gets
    ("paddle", "bf16"),
    ("openvino", "bf16"),
    ("openvino", "int8"),  # pyml quantize's model, calibrated on CALIBRATION photo crops
]
CALIBRATION = 300
HELD_OUT = 300
SIZES = ("640x480", "12MP")
BATCHES = (1, 8)


def _load_pyml(name: str, model_dir: str, threads: int, backends: list[tuple[str, str]]) -> dict:
    import pyml
    from pyml.errors import BackendError

    loaded, skipped = {}, {}
    for backend, precision in backends:
        label = f"{backend} {precision}"
        try:
            loaded[label] = pyml.create_pipeline(
                model_dir=model_dir,
                model_name=name,
                cpu_threads=threads,
                backend=backend,
                precision=precision,
                batch_size=8,
            )
        except BackendError as exc:
            skipped[label] = str(exc)
            print(f"benchmarks: {name} {label} skipped: {exc}", file=sys.stderr)
    return {"pipelines": loaded, "skipped": skipped}


def _quantize(model_dir: str, crops: list) -> dict | None:
    """pyml quantize on photo crops; its agreement report (None: not possible here)."""
    from dataclasses import asdict

    from pyml.backends.quantize import quantize
    from pyml.errors import BackendError

    try:
        return asdict(quantize(model_dir, crops, samples=CALIBRATION))
    except BackendError as exc:
        print(f"benchmarks: int8 skipped: {exc}", file=sys.stderr)
        return None


def compare_backends(
    names: list[str],
    model_dirs: dict[str, str],
    image_sets: dict[str, list[str]],
    threads: int,
    repeats: int,
    backends: list[tuple[str, str]] = BACKENDS,
    sizes: tuple[str, ...] = SIZES,
    batches: tuple[int, ...] = BATCHES,
) -> dict:
    from benchmarks import paddlex_side
    from benchmarks.measure import cycle, interleaved_median_seconds, median_seconds
    from pyml.inputs import iter_sources

    results: dict = {}
    for name in names:
        int8 = _quantize(model_dirs[name], image_sets["crops"]) if ("openvino", "int8") in backends else None
        paddlex = paddlex_side.load(name, model_dirs[name], threads)
        pyml_side = _load_pyml(name, model_dirs[name], threads, backends)
        per_model: dict = {"skipped": pyml_side["skipped"], "rows": {}, "auto": None, "int8": int8}
        auto = pyml_side["pipelines"].get("auto fp32")
        if auto is not None:
            per_model["auto"] = getattr(auto._backend, "auto_choice", {"winner": auto.backend_name})
        for size in sizes:
            for batch in batches:
                images = cycle(image_sets[size], 16)
                key = f"{size} b{batch}"
                print(f"benchmarks: backends {name} {key}", file=sys.stderr)
                theirs = paddlex_side.predict(paddlex, images, batch)
                paddlex_alone = len(images) / median_seconds(
                    lambda p=paddlex, i=images, b=batch: paddlex_side.predict(p, i, b), repeats
                )
                runs = {"paddlex": lambda p=paddlex, i=images, b=batch: paddlex_side.predict(p, i, b)}
                answers = {}
                for label, pipeline in pyml_side["pipelines"].items():

                    def run(pipeline=pipeline, images=images, batch=batch):
                        return [(r.class_ids, r.scores) for r in pipeline.predict(images, batch_size=batch)]

                    runs[label] = run
                    answers[label] = run()
                seconds = interleaved_median_seconds(runs, repeats)
                interleaved = len(images) / seconds["paddlex"]
                base = max(paddlex_alone, interleaved)  # the kinder reading of PaddleX
                row = {"paddlex": base, "paddlex_readings": (paddlex_alone, interleaved), "pyml": {}}
                for label, pipeline in pyml_side["pipelines"].items():
                    rate = len(images) / seconds[label]
                    tensor = pipeline._prepare(list(iter_sources(images[:batch]))).tensor
                    alone = batch / median_seconds(lambda p=pipeline, t=tensor: p._backend(t), repeats + 2)
                    pairs = [(dict(zip(*a)), dict(zip(*b))) for a, b in zip(theirs, answers[label])]
                    row["pyml"][label] = {
                        "images_per_s": rate,
                        "model_alone": alone,
                        "vs_paddlex": rate / base,
                        "label_sets_differing": sum(t.keys() != o.keys() for t, o in pairs),
                        "max_score_diff": max(
                            (abs(t[c] - o[c]) for t, o in pairs for c in t.keys() & o.keys()), default=0.0
                        ),
                    }
                per_model["rows"][key] = row
        results[name] = per_model
        del paddlex, pyml_side
    return results


def table(results: dict) -> list[str]:
    lines = []
    for name, model in results.items():
        lines += [f"#### {name}", ""]
        if model["auto"]:
            choice = model["auto"]
            when = "remembered from an earlier load" if choice.get("remembered") else "measured at load"
            lines.append(
                f"`auto` chose **{choice['winner']}** (batch-8 model-alone ms, {when}: "
                f"{choice.get('ms', {})}; rejected: {choice.get('rejected') or 'none'})."
            )
            lines.append("")
        if model.get("int8"):
            q = model["int8"]
            lines.append(
                f"int8: calibrated on {q['calibration_images']} photo crops; on {q['held_out_images']} held-out "
                f"crops its label sets equal openvino fp32's on {100 * q['label_sets_equal']:.1f}% "
                f"(max abs score diff {q['max_abs_score_diff']:.3f})."
            )
            lines.append("")
        for label, why in model["skipped"].items():
            lines.append(f"- {label}: not run here: {why}")
        lines += [
            "",
            "| input, batch | backend | images/s | **vs PaddleX** | model alone images/s (the limit) "
            "| share of the limit | label sets differing | max abs score diff |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, row in model["rows"].items():
            readings = row.get("paddlex_readings")  # absent from runs before interleaving
            both = f"; alone {readings[0]:.1f}, interleaved {readings[1]:.1f}" if readings else ""
            lines.append(f"| {key} | PaddleX (oneDNN fp32{both}) | {row['paddlex']:.1f} | 1.00x | | | | |")
            for label, r in row["pyml"].items():
                lines.append(
                    f"| {key} | pyml {label} | {r['images_per_s']:.1f} | **{r['vs_paddlex']:.2f}x** | "
                    f"{r['model_alone']:.1f} | {r['images_per_s'] / r['model_alone']:.0%} | "
                    f"{r['label_sets_differing']}/16 | {r['max_score_diff']:.1e} |"
                )
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from benchmarks.common import OUT, ROOT, ensure_paddlex, export_models

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["PP-LCNet_x1_0_ML", "PP-HGNetV2-B0_ML"])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=3, help="rounds of turns (2 timed runs each)")
    p.add_argument("--backends", nargs="+", help="e.g. auto, openvino:bf16 (default: every backend and precision)")
    p.add_argument("--sizes", nargs="+", choices=SIZES, default=list(SIZES))
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    args = p.parse_args(argv)
    if args.models == ["all"]:
        from pyml.catalogue import OFFICIAL_MODELS

        args.models = list(OFFICIAL_MODELS)
    backends = [tuple((b + ":fp32").split(":")[:2]) for b in args.backends] if args.backends else BACKENDS
    os.environ["PADDLE_PDX_CPU_NUM_THREADS"] = str(args.threads)
    ensure_paddlex(argv, module="benchmarks.bench_backends")
    from benchmarks.common import cpu
    from benchmarks.suite_images import write_crops, write_image_set

    os.chdir(ROOT)
    model_dirs = export_models(args.models)
    image_sets = write_image_set(OUT / "images")
    image_sets["crops"] = write_crops(OUT / "images" / "crops", CALIBRATION + HELD_OUT)
    shapes = (tuple(args.sizes), tuple(args.batches))
    results = compare_backends(args.models, model_dirs, image_sets, args.threads, args.repeats, backends, *shapes)
    print(f"CPU: {cpu()}; {args.threads} threads\n")
    print("\n".join(table(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
