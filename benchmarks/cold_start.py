"""Cold start and memory, side by side with `paddlex --serve`: seconds from process start
to the first HTTP answer, and resident memory (the server and any process it started)
after 200 and 1,000 requests. Cases, run in turn `--repeats` times:

- `paddlex --serve` (PaddleX 3.7.2, its basic serving);
- `pyml serve`, backend auto's choice remembered (`pyml warm` ran before, as in an image);
- `pyml serve`, fresh cache (an empty PYML_CACHE_DIR: it converts the model to ONNX and
  measures every backend, in a child process, before the first answer).

Both servers get the same pipeline YAML (batch 8, visualize at its default: on), the
same 640x480 JPEGs and 4 callers.

    python -m benchmarks.cold_start [--model PP-LCNet_x1_0_ML] [--repeats 2] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from benchmarks.serving_compare import LOCAL_FONT, OUT, PADDLEX_ENDPOINT, _bodies, _free_port, _pipeline_yaml, _stop

CALLERS = 4
MEMORY_AT = (200, 1000)


def _rss_mb(pid: int) -> float:
    """The server's resident memory with its children's (a child still measuring counts)."""
    try:
        process = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return float("nan")


def _post(url: str, body: bytes) -> bool:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read()).get("errorCode") == 0


def _serve(cmd: list[str], env: dict, url: str, bodies: list[bytes], requests: int) -> dict:
    """Starts the server, times its first answer, then sends `requests` in all from
    CALLERS threads, reading its memory as the count passes each of MEMORY_AT."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited: {proc.stderr.read()[-2000:]}")
            try:
                if not _post(url, bodies[0]):
                    raise RuntimeError(f"{cmd[0]}: the first answer is an error")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.02)
        first = time.perf_counter() - started
        sent, memory, failed = [1], {}, [0]
        lock = threading.Lock()

        def caller() -> None:
            while True:
                with lock:
                    if sent[0] >= requests:
                        return
                    sent[0] += 1
                    k = sent[0]
                ok = _post(url, bodies[k % len(bodies)])
                with lock:
                    failed[0] += not ok
                    if k in MEMORY_AT:
                        memory[k] = _rss_mb(proc.pid)

        threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"first_s": first, **{f"mb_{k}": memory.get(k, float("nan")) for k in MEMORY_AT}, "failed": failed[0]}
    finally:
        _stop(proc)


def paddlex_case(yaml: Path, threads: int):
    port = _free_port()
    env = dict(
        os.environ,
        PADDLE_PDX_CPU_NUM_THREADS=str(threads),
        PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK="True",
        PADDLE_PDX_LOCAL_FONT_FILE_PATH=LOCAL_FONT,
    )
    cli = str(Path(sys.executable).parent / "paddlex")
    cmd = [cli, "--serve", "--pipeline", str(yaml), "--port", str(port), "--host", "127.0.0.1", "--device", "cpu"]
    return cmd, env, f"http://127.0.0.1:{port}{PADDLEX_ENDPOINT}"


def pyml_case(yaml: Path, cache: str):
    port = _free_port()
    cmd = [sys.executable, "-m", "pyml.cli", "serve", "--pipeline", f"model={yaml}", "--port", str(_free_port()),
           "--http_port", str(port), "--max_batch_size", "8"]  # fmt: skip
    return cmd, dict(os.environ, PYML_CACHE_DIR=cache), f"http://127.0.0.1:{port}{PADDLEX_ENDPOINT}"


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import OUT as RUN_OUT
    from benchmarks.common import ensure_paddlex, export_models, machine
    from benchmarks.suite_images import write_image_set

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="PP-LCNet_x1_0_ML")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    ensure_paddlex(argv, module="benchmarks.cold_start")
    model_dir = export_models([args.model])[args.model]
    paths = write_image_set(RUN_OUT / "images")["640x480"]
    bodies = _bodies([Path(path).read_bytes() for path in paths[:32]], None)
    paddlex_yaml = _pipeline_yaml(args.model, model_dir)
    pyml_yaml = _pipeline_yaml(args.model, model_dir, f"    cpu_threads: {args.threads}\n")
    print(f"machine: {machine()}; {args.model}, {args.requests} requests from {CALLERS} callers", flush=True)
    warm_cache = tempfile.mkdtemp(prefix="pyml-warm-cache-")
    subprocess.run([sys.executable, "-m", "pyml.cli", "warm", str(pyml_yaml)], check=True,
                   env=dict(os.environ, PYML_CACHE_DIR=warm_cache))  # fmt: skip
    runs: dict[str, list[dict]] = {"paddlex --serve": [], "pyml serve, remembered": [], "pyml serve, fresh cache": []}
    for _ in range(args.repeats):
        for case, (cmd, env, url) in {
            "paddlex --serve": paddlex_case(paddlex_yaml, args.threads),
            "pyml serve, remembered": pyml_case(pyml_yaml, warm_cache),
            "pyml serve, fresh cache": pyml_case(pyml_yaml, tempfile.mkdtemp(prefix="pyml-fresh-cache-")),
        }.items():
            row = _serve(cmd, env, url, bodies, args.requests)
            runs[case].append(row)
            print(f"  {case}: {row}", flush=True)
    base = {k: statistics.median(r[k] for r in runs["paddlex --serve"]) for k in ("first_s", "mb_1000")}
    print("\n| server | first answer s (runs) | vs PaddleX | memory MB after 200 / 1000 | vs PaddleX |")
    print("|---|---:|---:|---:|---:|")
    for case, rows in runs.items():
        first = statistics.median(r["first_s"] for r in rows)
        mb = {k: statistics.median(r[f"mb_{k}"] for r in rows) for k in MEMORY_AT}
        spread = " / ".join(f"{r['first_s']:.2f}" for r in rows)
        print(f"| {case} | {first:.2f} ({spread}) | {first / base['first_s']:.2f}x | "
              f"{mb[200]:.0f} / {mb[1000]:.0f} | {mb[1000] / base['mb_1000']:.2f}x |")  # fmt: skip
    (OUT / "cold_start.json").write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
