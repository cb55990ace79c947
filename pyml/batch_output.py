"""`pyml batch`'s output file (JSONL, one row per image): appended a batch at a time,
read back by --resume, shared by the local job (batch.py) and Ray's driver (batch_ray.py)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes
from .errors import ConfigError

log = logging.getLogger(__name__)


def encode_row(row: dict[str, Any]) -> tuple[str, str, bool]:
    """A result as the output file holds it: its name, its JSON line, whether it failed."""
    return str(row["img_path"]), json.dumps(row, ensure_ascii=False), "error" in row


class JsonlOutput:
    """The result file: reads back what a previous run wrote, appends the rest.

    A line is only ever written whole, ending in a newline, in one write() of a whole
    batch; what follows the last newline after a kill is a torn line and is cut off.
    A name already written is never written again (Ray may run a batch twice).
    With retry_failed (and resume), the rows whose attempt failed are taken out of the
    file first (rewritten whole, then renamed into place), so those images run again
    and each image is in the file once.
    """

    def __init__(
        self, path: str | Path, resume: bool = False, overwrite: bool = False, retry_failed: bool = False
    ) -> None:
        self.path = Path(path).expanduser()
        self.done: set[str] = set()
        self.failed_before = 0
        self.retried = 0  # failed rows taken out to run again
        if retry_failed and not resume:
            raise ConfigError("--retry_failed goes with --resume: it retries the failures of an earlier run")
        if self.path.is_dir():
            raise ConfigError(f"{self.path}: --output is a folder; give a file name such as results.jsonl")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not (resume or overwrite):
            raise ConfigError(
                f"{self.path} already holds results: pass --resume to go on from "
                "where it stopped, or --overwrite to start again"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if exists and resume:
            self._recover(retry_failed)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if overwrite and not resume else 0)
        self._fd = os.open(self.path, flags, 0o644)

    def _recover(self, retry_failed: bool) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning(
                "%s: cutting off a torn last line (%d bytes) left by an interrupted run", self.path, len(data) - end
            )
            os.truncate(self.path, end)
        kept: list[bytes] = []
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                name = row["img_path"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"{self.path}:{number}: not a pyml result row ({exc}); is this the right --output file?"
                ) from exc
            if retry_failed and "error" in row:
                self.retried += 1
                continue
            kept.append(line + b"\n")
            self.done.add(name)
            self.failed_before += "error" in row
        if self.retried:
            self._rewrite(b"".join(kept))

    def _rewrite(self, data: bytes) -> None:
        """Replaces the file's content atomically: a kill leaves the old file or the new one."""
        atomic_write_bytes(self.path, data)

    def write(self, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Appends the rows not written yet; returns how many it wrote, and how many of those failed."""
        return self.write_encoded(encode_row(row) for row in rows)

    def write_encoded(self, rows: Iterable[tuple[str, str, bool]]) -> tuple[int, int]:
        """write() for rows already in JSON: (img_path, JSON text, failed) each, as Ray's
        workers send them, so the driver neither parses nor re-encodes them."""
        lines, failed = [], 0
        for name, text, row_failed in rows:
            if name in self.done:
                continue
            self.done.add(name)
            lines.append(text + "\n")
            failed += bool(row_failed)
        if lines:
            payload = "".join(lines).encode("utf-8")
            written = 0
            while written < len(payload):  # os.write may write less than asked (a full disk says so)
                written += os.write(self._fd, payload[written:])
        return len(lines), failed

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DryRunOutput:
    """`pyml batch --metadata ... --dry_run`: in place of the output file, one line per
    picture whose metadata would change, on stdout; nothing is written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.done: set[str] = set()

    def write(self, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
        from .photo_metadata import Change  # noqa: PLC0415

        count = failed = 0
        for row in rows:
            count += 1
            if "error" in row:
                failed += 1
                print(f"{row['img_path']}: {row['error']['message']}", flush=True)
            elif "metadata" in row:
                change = Change(**row["metadata"])
                if change.changes or change.note:
                    print(change.line(dry_run=True), flush=True)
        return count, failed

    def __enter__(self) -> DryRunOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


__all__ = ["DryRunOutput", "JsonlOutput", "encode_row"]
