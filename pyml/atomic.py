"""Writing files and folders whole or not at all, the one way pyml does it.

Every write is staged beside its target under a name no other process or thread uses,
flushed to disk (file, then folder) and renamed over the target, so a reader, a crash,
a power cut or Ctrl-C finds the old content or the new, never a part. A folder that
already exists is swapped with the new one in one step (Linux's renameat2 with
RENAME_EXCHANGE), so there is no moment without it; where the filesystem cannot swap,
the old one is first renamed aside, and only removed once the new one is in place.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _libc_renameat2() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # not glibc >= 2.28, or not Linux
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return function


_renameat2 = _libc_renameat2()


def _umask() -> int:
    """The process' umask, read without setting it (os.umask would change it for every
    thread for a moment)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def fsync_dir(folder: Path) -> None:
    """Makes a rename or a new entry in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(folder))


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths in one step; False where the system or filesystem cannot."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_file(staged: Path, final: Path) -> Path:
    """Moves a finished file of the same folder over `final`, durably."""
    final = Path(final)
    with open(staged, "rb") as f:
        os.fsync(f.fileno())
    os.replace(staged, final)
    fsync_dir(final.parent)
    return final


def replace_dir(staged: Path, final: Path) -> Path:
    """Moves a finished folder of the same parent to `final`, replacing what is there
    without a moment when `final` is missing (see the module docstring)."""
    staged, final = Path(staged), Path(final)
    _fsync_tree(staged)
    if final.is_dir() and not final.is_symlink():
        if _exchange(staged, final):
            shutil.rmtree(staged)  # now the old folder
        else:
            aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.old-"))
            os.replace(final, aside / final.name)
            os.replace(staged, final)
            shutil.rmtree(aside)
    else:
        if final.exists() or final.is_symlink():
            final.unlink()
        os.replace(staged, final)
    fsync_dir(final.parent)
    return final


def staging_path(final: Path, suffix: str = ".partial") -> Path:
    """A fresh name beside `final` that no other process or thread is using."""
    final = Path(final)
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=suffix)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yields an empty staging folder beside `final`; when the block ends without an
    error it replaces `final` (replace_dir), otherwise it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".partial"))
    try:
        yield staging
        replace_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes, times_ns: tuple[int, int] | None = None) -> Path:
    """Writes `data` to `path` through a staging file; an existing file keeps its mode (and
    its owner, where this process may set it). `times_ns`: (atime, mtime) to give the new
    file, e.g. the old one's, so a photo's date in a file browser does not change."""
    path = Path(path)
    staging = staging_path(path)
    try:
        with open(staging, "wb") as out:
            out.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(staging, os.stat(path).st_mode & 0o7777)
        if not path.exists():  # mkstemp makes 0600; a new file gets the mode open() would give it
            os.chmod(staging, 0o666 & ~_umask())
        else:
            with contextlib.suppress(OSError):  # only root may give a file away
                old = os.stat(path)
                os.chown(staging, old.st_uid, old.st_gid)
        if times_ns is not None:
            os.utime(staging, ns=times_ns)
        return replace_file(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> Path:
    """atomic_write_bytes of `text` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


__all__ = [
    "atomic_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_dir",
    "replace_dir",
    "replace_file",
    "staging_path",
]
