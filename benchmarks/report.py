"""benchmarks/RESULTS.md and benchmarks/results.png from the suite's results (made
by benchmarks/run.py; never edited by hand)."""

from __future__ import annotations

import math
from pathlib import Path

TARGETS = {"12MP b8": 3.0, "640x480 b8": 1.5}  # end-to-end pyml/PaddleX, PP-LCNet_x1_0_ML


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b and not math.isnan(a) and not math.isnan(b) else "n/a"


def _preprocess_table(model: dict) -> list[str]:
    lines = [
        "| input | PaddleX ops (images/s) | pyml exact | pyml fast | exact / PaddleX | fast / PaddleX "
        "| tensor max abs diff (exact) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size, row in model["preprocess"].items():
        lines.append(
            f"| {size} | {row['paddlex']:.1f} | {row['exact']:.1f} | {row['fast']:.1f} | "
            f"{_ratio(row['exact'], row['paddlex'])} | {_ratio(row['fast'], row['paddlex'])} | "
            f"{row['tensor_max_abs_diff']:.1e} |"
        )
    return lines


def _e2e_table(model: dict) -> list[str]:
    lines = [
        "| input, batch | PaddleX images/s | pyml exact | pyml fast | **exact / PaddleX** | fast / PaddleX "
        "| p50 latency ms: PaddleX / exact / fast | time outside the model: PaddleX / exact / fast "
        "| model alone (images/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in model["e2e"].items():
        px, ex, fa = row["paddlex"], row["exact"], row["fast"]
        lines.append(
            f"| {key} | {px['images_per_s']:.1f} | {ex['images_per_s']:.1f} | {fa['images_per_s']:.1f} | "
            f"**{_ratio(ex['images_per_s'], px['images_per_s'])}** | "
            f"{_ratio(fa['images_per_s'], px['images_per_s'])} | "
            f"{px['p50_latency_ms']:.0f} / {ex['p50_latency_ms']:.0f} / {fa['p50_latency_ms']:.0f} | "
            f"{px['outside_model']:.0%} / {ex['outside_model']:.0%} / {fa['outside_model']:.0%} | "
            f"{row.get('model_alone_images_per_s', float('nan')):.1f} |"
        )
    return lines


def _parity_table(model: dict) -> list[str]:
    lines = [
        "| input, batch | exact: pictures with identical labels | exact: labels in one side only "
        "| exact: max abs score diff | fast: pictures with identical labels | fast: labels in one side only "
        "| fast: max abs score diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, row in model["e2e"].items():
        cells = []
        for mode in ("exact", "fast"):
            r = row[mode]
            cells += [
                r["labels_identical"],
                f"{r['labels_differing']} of {r['labels_compared']}",
                f"{r['max_score_diff']:.1e}",
            ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "Score differences are over labels both sides kept (scores are rounded to 5 decimals on both sides)."]
    return lines


def _targets(results: dict) -> list[str]:
    name = next(iter(results["models"]))
    model = results["models"][name]
    lines = [f"| target ({name}) | wanted | measured | met |", "|---|---:|---:|---|"]
    for key, wanted in TARGETS.items():
        row = model["e2e"].get(key)
        if row is None:
            continue
        got = row["exact"]["images_per_s"] / row["paddlex"]["images_per_s"]
        lines.append(
            f"| end-to-end {key}, pyml exact / PaddleX | >= {wanted:.1f}x | {got:.2f}x | "
            f"{'yes' if got >= wanted else '**no**'} |"
        )
    row = model["e2e"].get("640x480 b8")
    if row is not None:
        share = row["exact"]["outside_model"]
        lines.append(
            f"| pyml time outside the model, 640x480 b8 | < 10% | {share:.1%} | {'yes' if share < 0.10 else '**no**'} |"
        )
    return lines


def _serving(serving: dict) -> list[str]:
    lines = [
        f"{serving['callers']} concurrent callers for {serving['seconds']:.0f} s each, "
        f"{serving['image_size']} JPEGs, {serving['model']}; pyml: bidirectional gRPC streams "
        "(one request in flight per stream, like the HTTP callers), dynamic batching up to 8; "
        "PaddleX: `paddlex --serve` "
        "(HTTP, JSON with a base64 image, one request per call).",
        "",
        "| server | images/s | p50 latency ms | errors | vs PaddleX |",
        "|---|---:|---:|---:|---:|",
    ]
    px = serving["paddlex"]
    for side in ("paddlex", "pyml"):
        row = serving[side]
        if "error" in row:
            lines.append(f"| {side} | - | - | - | did not run: {row['error'][-300:]} |")
            continue
        vs = _ratio(row["images_per_s"], px["images_per_s"]) if "error" not in px else "n/a"
        lines.append(
            f"| {'PaddleX basic serving' if side == 'paddlex' else 'pyml gRPC stream'} | "
            f"{row['images_per_s']:.1f} | {row['p50_latency_ms']:.0f} | {row['errors']} | {vs} |"
        )
    return lines


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["models"])
    fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = results["models"][name]["e2e"]
        keys = list(rows)
        width = 0.27
        for i, (side, label) in enumerate(
            (("paddlex", "PaddleX 3.7.2"), ("exact", "pyml exact"), ("fast", "pyml fast"))
        ):
            ax.bar(
                [k + (i - 1) * width for k in range(len(keys))],
                [rows[key][side]["images_per_s"] for key in keys],
                width,
                label=label,
            )
        ax.set_xticks(range(len(keys)), [k.replace(" b", "\nbatch ") for k in keys])
        ax.set_yscale("log")
        ax.set_ylabel("images/s (log scale)")
        ax.set_title(f"{name}, end to end, {results['threads']} threads")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, path: Path, plot_path: Path) -> None:
    v = results["versions"]
    lines = [
        "# pyml vs PaddleX: end-to-end results",
        "",
        "Produced by the command below on this project's machine; not edited by hand. Ratios are "
        "pyml / PaddleX from the same process and run (absolute numbers move with the machine's "
        "load; ratios much less).",
        "",
        f"- command: `{results['command']}` ({results['minutes']:.1f} min)",
        f"- machine: {results['machine']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- both sides: Paddle Inference on the CPU, oneDNN on, {results['threads']} math threads; "
        "PaddleX preprocesses in Python on one thread (its design), pyml in its native core on every core",
        "- models: pyml's exports of the PaddleX architectures (seeded random weights, 448x448; "
        "tools/export_arch.py), loaded by PaddleX's own `create_model`",
        "- pictures: " + ", ".join(results["images"]["640x480"]) + "; each as JPEG q90 at 640x480 and "
        "4000x3000 (12 MP, bicubic upscale); end-to-end passes of 16 pictures (2 batches of 8)",
        "",
        "## Targets",
        "",
        *_targets(results),
        "",
    ]
    for name, model in results["models"].items():
        lines += [
            f"## {name}",
            "",
            "### End to end (`predict`: read file, preprocess, infer, postprocess)",
            "",
            *_e2e_table(model),
            "",
            "Latency is one `predict` call on one batch (1 or 8 pictures). Time outside the model = "
            "1 - (time inside the Paddle predictor) / (wall time of a pass). Model alone = the Paddle "
            "predictor on a ready tensor of that batch size: no pipeline can beat it on this machine, "
            "so it bounds every ratio in the row.",
            "",
            "### Preprocessing only (batch of 8, file read included)",
            "",
            *_preprocess_table(model),
            "",
            "### Parity (same run)",
            "",
            *_parity_table(model),
            "",
        ]
        if model.get("rss_mib"):
            lines += [
                "### Peak RSS (separate process per side, one batch-8 pass)",
                "",
                "| input | PaddleX MiB | pyml MiB |",
                "|---|---:|---:|",
            ]
            lines += [
                f"| {size} | {row['paddlex']:.0f} | {row['exact']:.0f} |" for size, row in model["rss_mib"].items()
            ]
            lines.append("")
    if "backends" in results:
        from benchmarks.bench_backends import table

        lines += [
            "## Backends and precisions (pyml exact decode; PaddleX at its default)",
            "",
            *table(results["backends"]),
        ]
    if "serving" in results:
        lines += ["## Serving", "", *_serving(results["serving"]), ""]
    lines += ["![images/s by input size and batch size](results.png)", ""]
    path.write_text("\n".join(lines))
    plot(results, plot_path)
