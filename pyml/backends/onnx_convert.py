"""One ONNX file per model for the ONNX-reading backends (OpenVINO, ONNX Runtime).

    inference.json/.pdmodel + inference.pdiparams --paddle2onnx (opset 17)--> graph
        --polygraphy fold_constants--> inference.onnx

Constant folding is done here because OpenVINO cannot read paddle2onnx's unfolded
graphs, and paddle2onnx's own optimizer tries to pip-install helpers at run time
(offline it writes an unfolded file without saying so). The conversion runs in a
subprocess (`python -m pyml.backends.onnx_convert`), so a converter crash is an error
message, not a dead server.

Where the file is found, first hit wins:
1. `MODEL_DIR/inference.onnx` with no `inference.onnx.sha256` beside it: PaddleX's own
   export, used as is;
2. `MODEL_DIR/inference.onnx` whose `.sha256` matches the model's hash (`pyml convert`);
3. `$PYML_CACHE_DIR/onnx/<hash>.onnx` (default `~/.cache/pyml`), written on first use,
   so that loading a model never writes into its directory.
The hash is SHA-256 of the graph file and the params file, so a retrained model is
converted again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..atomic import atomic_write_text, replace_file
from ..errors import BackendError

log = logging.getLogger(__name__)
OPSET = 17
CONVERT_TIMEOUT_S = 900


def cache_dir() -> Path:
    root = os.environ.get("PYML_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pyml"
    )
    return Path(root)


def model_hash(model_file: Path, params_file: Path) -> str:
    """SHA-256 of the graph and the weights. One load asks several times (auto's key, each
    backend's ONNX file, the int8 model), so it is remembered per file size and mtime."""
    files = (Path(model_file), Path(params_file))
    return _hash_of(files, tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@functools.lru_cache(maxsize=64)
def _hash_of(files: tuple[Path, ...], _stats: tuple) -> str:
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _sidecar(onnx_file: Path) -> Path:
    return onnx_file.with_name(onnx_file.name + ".sha256")


def find_onnx(model_file: Path, params_file: Path, digest: str | None = None) -> Path | None:
    """The ONNX file for this model if one exists (see the module docstring), else None."""
    beside = Path(model_file).parent / "inference.onnx"
    if beside.is_file():
        sidecar = _sidecar(beside)
        if not sidecar.exists():
            return beside
        digest = digest or model_hash(model_file, params_file)
        if sidecar.read_text(encoding="utf-8").strip() == digest:
            return beside
    digest = digest or model_hash(model_file, params_file)
    cached = cache_dir() / "onnx" / f"{digest}.onnx"
    return cached if cached.is_file() else None


def converter_missing() -> str | None:
    """What `pip install` is needed for converting, or None when all is there."""
    import importlib.util

    missing = [
        name
        for module, name in (
            ("paddle2onnx", "paddle2onnx"),
            ("onnx", "onnx"),
            ("polygraphy", "polygraphy"),
            ("onnx_graphsurgeon", "onnx-graphsurgeon"),
            ("onnxruntime", "onnxruntime"),
        )
        if importlib.util.find_spec(module) is None
    ]
    return " ".join(missing) or None


def convert(model_file: Path, params_file: Path, target: Path, digest: str | None = None) -> Path:
    """Converts in a subprocess and writes `target` (+ its .sha256) atomically."""
    missing = converter_missing()
    if missing:
        raise BackendError(f"converting {model_file} to ONNX needs {missing}: pip install 'pyml[onnx]'")
    digest = digest or model_hash(model_file, params_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
        partial = Path(tmp) / "inference.onnx"
        command = [sys.executable, "-m", "pyml.backends.onnx_convert", str(model_file), str(params_file), str(partial)]
        log.info("converting %s to ONNX (paddle2onnx, opset %d, constant folding)", model_file, OPSET)
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"converting {model_file} to ONNX took over {CONVERT_TIMEOUT_S} s") from exc
        if run.returncode != 0 or not partial.is_file():
            detail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-6:])
            raise BackendError(f"converting {model_file} to ONNX failed (exit {run.returncode}): {detail}")
        # A file with no sidecar is trusted as PaddleX's own export, and an old file beside a
        # new sidecar would be trusted too: the old file goes first, the sidecar comes
        # before the new file, so a crash at any point leaves nothing found, not a wrong file.
        target.unlink(missing_ok=True)
        atomic_write_text(_sidecar(target), digest + "\n")
        replace_file(partial, target)
    return target


def onnx_for(model_file: Path, params_file: Path) -> Path:
    """The model's ONNX file, converting it into the cache on first use."""
    digest = model_hash(model_file, params_file)
    found = find_onnx(model_file, params_file, digest)
    if found is not None:
        return found
    return convert(model_file, params_file, cache_dir() / "onnx" / f"{digest}.onnx", digest)


def _convert_here(model_file: str, params_file: str, target: str) -> None:
    """The subprocess' work: paddle2onnx, then constant folding, then one save."""
    import contextlib
    import io

    from .paddle import import_paddle

    import_paddle()
    import onnx
    import paddle2onnx
    from polygraphy.backend.onnx import fold_constants

    unfolded = Path(target).with_suffix(".unfolded.onnx")
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):  # paddle2onnx and polygraphy print progress
        # optimize_tool="None": paddle2onnx's optimizer would pip-install its helpers
        paddle2onnx.export(
            model_file,
            params_file,
            str(unfolded),
            opset_version=OPSET,
            optimize_tool="None",
            verbose=False,
            enable_onnx_checker=True,
        )
        folded = fold_constants(onnx.load(str(unfolded)))
    unfolded.unlink()
    onnx.save(folded, target)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m pyml.backends.onnx_convert MODEL_FILE PARAMS_FILE TARGET.onnx")
    _convert_here(*sys.argv[1:])
