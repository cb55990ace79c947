"""Downloads of PaddleX's official packages: a model's inference package and an
architecture's training weights, from PaddleX's server or `$PYML_MODEL_MIRROR` (a copy of
the same tree), never with `PYML_OFFLINE=1`.

A download streams to a temporary file (resumed by HTTP Range after a dropped
connection, retried with back-off, capped in size), is unpacked into a staging folder
with every member checked, must load as the model asked for, and is then renamed into
place under a cross-process lock: two processes asking at once download once, and a
failure leaves no folder behind. Where it lands is pyml/models.py's rule.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import logging
import os
import shutil
import socket
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .atomic import replace_dir, replace_file
from .errors import ConfigError, ModelError, advice
from .models import check_name, download_dir, find_local, is_demo, is_model_dir, pretrained_dir
from .progress import progress_bar

log = logging.getLogger(__name__)

OFFICIAL_BASE = "https://paddle-model-ecology.bj.bcebos.com/paddlex"
INFERENCE_PATH = "official_inference_model/paddle3.0.0/{name}_infer.tar"
PRETRAINED_PATH = "official_pretrained_model/{name}_pretrained.pdparams"
MAX_DOWNLOAD_BYTES = 2 << 30  # the largest official package is ~330 MB
TIMEOUT_S = 30.0  # connect, and each read
RETRIES = 4  # after the first attempt, with back-off 1, 2, 4, 8 s
BACKOFF_S = 1.0
# A name that does not resolve or a refused connection does not heal in seconds: one
# quick retry (a resolver's hiccup), then the error.
UNHEALING_RETRIES = 1
UNHEALING_BACKOFF_S = 0.25
_RETRYABLE_HTTP = {408, 425, 429, 500, 502, 503, 504}


def mirror() -> str:
    return os.environ.get("PYML_MODEL_MIRROR", "").strip().rstrip("/") or OFFICIAL_BASE


def offline() -> bool:
    return os.environ.get("PYML_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def inference_url(name: str) -> str:
    return f"{mirror()}/{INFERENCE_PATH.format(name=name)}"


def pretrained_url(name: str) -> str:
    return f"{mirror()}/{PRETRAINED_PATH.format(name=name)}"


def _failure(name: str, url: str, reason: str, target: Path) -> ModelError:
    """The one error a failed download is: what failed, then what the user can do here."""
    if target.suffix == ".pdparams":
        by_hand = f"Fetch that file by hand and save it as {target}"
        instead = advice(
            "; to train without it, start from a model directory with --from DIR, or leave out --pretrained",
            "; to train without it, start from a model directory (from_dir=...), or leave out pretrained",
        )
    else:
        by_hand = (
            f"Fetch that file by hand and unpack it into {target} "
            "(inference.json or inference.pdmodel, inference.pdiparams, inference.yml)"
        )
        instead = advice(
            "; to try pyml offline, --pipeline pyml_demo runs the embedded demo model",
            '; to try pyml offline, create_pipeline("pyml_demo") runs the embedded demo model',
        )
    if mirror() == OFFICIAL_BASE:
        elsewhere = f", or set PYML_MODEL_MIRROR to a copy of {OFFICIAL_BASE}"
    else:
        elsewhere = f", or check that the mirror PYML_MODEL_MIRROR={mirror()} holds {url[len(mirror()) + 1 :]}"
    return ModelError(f"cannot get model {name} from {url}: {reason}. {by_hand}{elsewhere}{instead}")


class _Fatal(Exception):
    """A download failure that retrying cannot mend."""


@contextlib.contextmanager
def _as_model_error(name: str, url: str, target: Path) -> Iterator[None]:
    """Every failure of a download step, as the one ModelError a user sees."""
    try:
        yield
    except _Fatal as exc:
        raise _failure(name, url, str(exc), target) from None
    except OSError as exc:
        raise _failure(name, url, f"{type(exc).__name__}: {exc}", target) from None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """A cross-process lock (flock): the second process waits, then finds the work done."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _progress_bar(label: str, total: int | None, initial: int, enabled: bool) -> Any:
    return progress_bar(
        total, label, unit="B", enabled=enabled, initial=initial, unit_scale=True, unit_divisor=1024, leave=False
    )


def _fetch_once(url: str, part: Path, label: str, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (http/https only)
        resumed = have > 0 and response.status == 206
        if not resumed:
            have = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        if total is not None and total > MAX_DOWNLOAD_BYTES:
            raise _Fatal(f"{total} bytes is over the {MAX_DOWNLOAD_BYTES}-byte limit")
        with open(part, "ab" if resumed else "wb") as out, _progress_bar(label, total, have, progress) as bar:
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                have += len(chunk)
                if have > MAX_DOWNLOAD_BYTES:
                    raise _Fatal(f"more than the {MAX_DOWNLOAD_BYTES}-byte limit")
                out.write(chunk)
                bar.update(len(chunk))
        if total is not None and have < total:
            raise http.client.IncompleteRead(b"", total - have)


def fetch(url: str, part: Path, label: str, progress: bool = True) -> None:
    """Streams `url` into `part`, resuming after a dropped connection where the server
    honours Range, retrying transient failures. Raises _Fatal with the reason."""
    for attempt in range(RETRIES + 1):
        try:
            _fetch_once(url, part, label, progress)
            return
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            if exc.code == 416:  # our partial file is no prefix of theirs: start again
                part.unlink(missing_ok=True)
            elif exc.code not in _RETRYABLE_HTTP:
                raise _Fatal(f"HTTP {exc.code} {exc.reason}") from None
            reason = f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            reason = _connect_failure(exc.reason, url)
            if isinstance(exc.reason, (socket.gaierror, ConnectionRefusedError)):
                if attempt >= UNHEALING_RETRIES:
                    raise _Fatal(reason) from None
                time.sleep(UNHEALING_BACKOFF_S)
                continue
        except (http.client.HTTPException, OSError) as exc:
            reason = f"connection lost ({type(exc).__name__}: {exc})"
        if attempt == RETRIES:
            raise _Fatal(f"{reason}, after {RETRIES + 1} attempts")
        delay = BACKOFF_S * 2**attempt
        log.warning("download of %s: %s; trying again in %g s", url, reason, delay)
        time.sleep(delay)


def _connect_failure(cause: BaseException | str | None, url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve the host name {host} (no network, or no DNS)"
    if isinstance(cause, ConnectionRefusedError):
        return f"{host} refused the connection"
    return f"cannot connect ({cause})"


def _check_member(member: tarfile.TarInfo) -> None:
    path = Path(member.name)
    if member.name.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts:
        raise _Fatal(f"the archive has an unsafe path '{member.name}'")
    if member.isdev() or member.isfifo():
        raise _Fatal(f"the archive has a device or pipe '{member.name}'")
    if member.issym() or member.islnk():
        target = Path(member.linkname)
        resolved = target.parts if member.islnk() else (path.parent / target).parts
        depth = 0
        for part in resolved:
            depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
            if depth < 0 or target.is_absolute():
                raise _Fatal(f"the archive has a link '{member.name}' pointing outside it")


def unpack(archive: Path, staging: Path) -> Path:
    """Unpacks a model tar safely; returns the folder holding the model files (a single
    top folder, as PaddleX's packages have, or the archive's root)."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member)
            staging.mkdir(parents=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(staging, members, filter="data")
            else:  # Python < 3.10.12 / 3.11.4: the checks above are the whole guard
                tar.extractall(staging, members)  # noqa: S202
    except (tarfile.TarError, EOFError) as exc:
        first_line = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
        raise _Fatal(f"not a readable tar archive ({first_line})") from None
    entries = [p for p in staging.iterdir() if not p.name.startswith("._")]
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    if not is_model_dir(root):
        raise _Fatal("the archive holds no model (inference.json or .pdmodel, inference.pdiparams, inference.yml)")
    return root


def _check_loads(root: Path, name: str) -> None:
    from .model_dir import load_model_dir

    try:
        loaded = load_model_dir(root).model_name
    except ModelError as exc:
        raise _Fatal(f"the unpacked model does not load: {exc}") from None
    if loaded != name:
        raise _Fatal(f"the archive holds model '{loaded}', not '{name}'")


def download_model(name: str, progress: bool = True) -> Path:
    """Downloads official model `name` into download_dir(), unless another process has
    meanwhile; returns its folder. Every failure is a ModelError."""
    check_name(name)
    url = inference_url(name)
    root = download_dir()
    target = root / name
    if offline():
        raise _failure(name, url, "PYML_OFFLINE is set, so pyml does not download", target)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _failure(name, url, f"cannot create {root} ({exc.strerror})", target) from None
    with _locked(root / f".{name}.lock"):
        found = find_local(name)
        if found is not None:
            return found
        tag = f"{name}.{os.getpid()}"
        part, staging = root / f".{tag}.tar.part", root / f".{tag}.staging"
        print(f"pyml: downloading {name} from {url} into {target}", file=sys.stderr)
        try:
            with _as_model_error(name, url, target):
                fetch(url, part, name, progress)
                model_root = unpack(part, staging)
                _check_loads(model_root, name)
                replace_dir(model_root, target)  # over a broken folder of the same name, if one is there
        finally:
            part.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch_pretrained(name: str, progress: bool = True) -> Path:
    """PaddleX's training start for official model `name` (`<NAME>_pretrained.pdparams`),
    cached in pretrained_dir() and fetched (locked, checked) when missing."""
    check_name(name, "--pretrained")
    if is_demo(name):
        raise ConfigError(
            "--pretrained: the demo model has no published training weights; use --from with its folder instead"
        )
    url = pretrained_url(name)
    folder = pretrained_dir()
    target = folder / f"{name}_pretrained.pdparams"
    if target.is_file():
        return target
    if offline():
        raise _failure(name, url, "PYML_OFFLINE is set, so pyml does not download", target)
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / f".{name}.lock"):
        if target.is_file():
            return target
        part = folder / f".{name}.{os.getpid()}.part"
        print(f"pyml: downloading {name} training weights from {url}", file=sys.stderr)
        try:
            with _as_model_error(name, url, target):
                fetch(url, part, target.name, progress)
                _check_pdparams(part)
                replace_file(part, target)
        finally:
            part.unlink(missing_ok=True)
    return target


def _check_pdparams(path: Path) -> None:
    from .backends.paddle import import_paddle

    paddle = import_paddle()
    try:
        state = paddle.load(str(path))
    except Exception as exc:  # paddle raises many kinds for a file that is not its own
        raise _Fatal(f"not a Paddle parameters file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not state:
        raise _Fatal("not a Paddle state dict")


__all__ = ["download_model", "fetch_pretrained", "inference_url", "mirror", "offline", "pretrained_url"]
