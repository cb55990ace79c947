"""Labels written where photo tools read them (`pyml batch --metadata`, `pyml metadata remove`).

What is written, in a `.xmp` sidecar beside the picture (`photo.jpg.xmp`, the name
darktable and digiKam use) or embedded in the picture itself:
- XMP `dc:subject`: the labels, flat, as keywords;
- XMP `lr:hierarchicalSubject`: `pyml|<category>|<label>` (`pyml|<label>` without a
  category), so photo tools show a tree under "pyml";
- IPTC `Keywords` (embedded only, and only where the format has IPTC: JPEG, PNG, TIFF);
- pyml's own namespace: the model and its version, and which flat keywords pyml added.

It is someone's photo library, so: a keyword pyml did not add is never removed (a
re-run replaces pyml's own keywords, found by that record and by the `pyml|` prefix, and
never duplicates them); pixels are never re-encoded (exiv2 rewrites the metadata
segments only); other metadata (EXIF, GPS, ICC, other keywords) is kept; a file is
replaced whole through pyml.atomic, with its permissions and modification time kept; a
read-only file is refused, not overwritten. The metadata itself is read and written by
exiv2, through pyexiv2 (`pip install 'pyml[photos]'`; its wheel carries exiv2), not by
code of ours.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes
from .errors import InputError, require_extra

MODES = ("sidecar", "embed")
PREFIX = "pyml"  # the root of pyml's hierarchical keywords: marks them as pyml's
NAMESPACE = "http://ns.pyml.dev/xmp/1.0/"
SUBJECT, HIERARCHY = "Xmp.dc.subject", "Xmp.lr.hierarchicalSubject"
OURS, MODEL, VERSION = "Xmp.pyml.addedKeywords", "Xmp.pyml.classifier", "Xmp.pyml.classifierVersion"
OURS_IPTC = "Xmp.pyml.addedIptcKeywords"  # the IPTC keywords pyml added (its own record of them)
IPTC_KEYWORDS = "Iptc.Application2.Keywords"
IPTC_CHARSET = "Iptc.Envelope.CharacterSet"  # IIM 1:90; ESC % G says the text is UTF-8
UTF8 = "\x1b%G"
EMBEDDABLE = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}  # formats exiv2 writes
WITH_IPTC = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}  # of those, the ones with an IPTC block
# An empty XMP packet: a new sidecar starts as this, and exiv2 fills it.
EMPTY_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b"</rdf:RDF></x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)


def _exiv2() -> Any:
    require_extra("writing photo metadata", "photos", "pyexiv2")
    import pyexiv2  # noqa: PLC0415 (optional)

    pyexiv2.set_log_level(4)  # exiv2's own warnings would interleave with pyml's lines
    pyexiv2.registerNs(NAMESPACE, PREFIX)
    return pyexiv2


@dataclass
class Change:
    """What a write did (or, in a dry run, would do) to one file."""

    file: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    written: bool = False
    note: str = ""

    @property
    def changes(self) -> bool:
        return bool(self.added or self.removed)

    def line(self, dry_run: bool) -> str:
        if self.note and not self.changes:
            return f"{self.file}: {self.note}"
        verb = "would change" if dry_run else "changed"
        parts = [f"+{k}" for k in self.added] + [f"-{k}" for k in self.removed]
        return f"{verb} {self.file}: {' '.join(parts)}" + (f" ({self.note})" if self.note else "")

    def as_row(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", [])}


def sidecar_of(picture: str | Path) -> Path:
    return Path(str(picture) + ".xmp")


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def hierarchical(label: str, category: str) -> str:
    return f"{PREFIX}|{category}|{label}" if category else f"{PREFIX}|{label}"


def _owned(existing: list[str], owned_before: list[str], keywords: list[str]) -> tuple[list[str], list[str]]:
    """(the keyword list with pyml's replaced by `keywords`, the ones pyml owns now): a
    keyword someone else put there is theirs, and stays theirs."""
    others = [k for k in existing if k not in owned_before]
    owned = [k for k in dict.fromkeys(keywords) if k not in others]
    return others + owned, owned


def _retag(image: Any, keywords: list[str], paths: list[str], record: dict[str, str], iptc: Any) -> tuple[list, list]:
    """Puts pyml's keywords into an open exiv2 image (replacing pyml's earlier ones only);
    returns (added, removed) flat keywords. keywords=[] takes pyml's out. iptc: True (a
    picture with an IPTC block), False (none), "mirror" (a sidecar, see below)."""
    xmp = image.read_xmp()
    owned_before = _list(xmp.get(OURS))
    subjects, owned = _owned(_list(xmp.get(SUBJECT)), owned_before, keywords)
    tree = [h for h in _list(xmp.get(HIERARCHY)) if not h.startswith(PREFIX + "|")] + paths
    changes: dict[str, Any] = {
        SUBJECT: subjects or None,
        HIERARCHY: tree or None,
        OURS: owned or None,
        MODEL: record.get("model") if keywords else None,
        VERSION: record.get("version") if keywords else None,
    }
    if iptc == "mirror":
        # exiv2 reads a sidecar's dc:subject into IPTC Keywords and writes them back: the
        # in-memory IPTC must say the same, or a keyword taken out comes back
        image.modify_iptc({IPTC_KEYWORDS: subjects or None})
    elif iptc:
        existing = _list(image.read_iptc().get(IPTC_KEYWORDS))
        keywords_iptc, owned_iptc = _owned(existing, _list(xmp.get(OURS_IPTC)), keywords)
        changes[OURS_IPTC] = owned_iptc or None
        if keywords_iptc != existing:
            update: dict[str, Any] = {IPTC_KEYWORDS: keywords_iptc or None}
            if not all(k.isascii() for k in keywords_iptc):  # without it readers take the bytes for Latin-1
                update[IPTC_CHARSET] = UTF8
            image.modify_iptc(update)
    current = {key: xmp.get(key) for key in changes}
    if any(_list(current[k]) != _list(changes[k]) for k in changes):
        image.modify_xmp({k: v for k, v in changes.items() if not (v is None and current[k] is None)})
    added = [k for k in owned if k not in owned_before]
    removed = [k for k in owned_before if k not in owned and k not in subjects]
    return added, removed


def _rewrite(path: Path, data: bytes, edit: Any) -> tuple[bytes | None, Any]:
    """Runs `edit(image)` on the file's bytes; returns (new bytes or None if unchanged, edit's result)."""
    pyexiv2 = _exiv2()
    try:
        with pyexiv2.ImageData(data) as image:
            result = edit(image)
            new = image.get_bytes()
    except RuntimeError as exc:  # exiv2's errors: a corrupt file, an unsupported layout
        raise InputError(f"{path}: exiv2 cannot read or write its metadata ({exc})", reason="metadata") from None
    return (None if new == data else new), result


def _write(path: Path, new: bytes, keep_times_of: os.stat_result | None) -> None:
    times = (keep_times_of.st_atime_ns, keep_times_of.st_mtime_ns) if keep_times_of else None
    try:
        atomic_write_bytes(path, new, times_ns=times)
    except OSError as exc:  # a read-only folder, a full disk
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc})", reason="metadata") from None


def _writable(path: Path) -> None:
    """A file whose write bits are all off was made read-only by someone: pyml leaves it be,
    even when it runs as root (who may write anything)."""
    if path.exists() and (not path.stat().st_mode & 0o222 or not os.access(path, os.W_OK)):
        raise InputError(f"{path}: read-only; pyml does not change a file it may not write", reason="metadata")


class MetadataWriter:
    """Writes one picture's labels (sidecar or embedded) for `pyml batch --metadata`."""

    def __init__(self, mode: str, model: str, version: str, dry_run: bool = False, keep_mtime: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"metadata mode must be one of {', '.join(MODES)}, not {mode!r}")
        _exiv2()  # fails at once, naming the extra, when pyexiv2 is missing
        self.mode, self.dry_run, self.keep_mtime = mode, dry_run, keep_mtime
        self.record = {"model": model, "version": version}

    def write(self, picture: str | Path, labels: list[str], categories: list[str]) -> Change:
        picture = Path(picture)
        paths = [hierarchical(label, category) for label, category in zip(labels, categories)]
        if self.mode == "sidecar":
            target, iptc, keep = sidecar_of(picture), "mirror", None
            data = target.read_bytes() if target.exists() else EMPTY_PACKET
        else:
            suffix = picture.suffix.lower()
            if suffix not in EMBEDDABLE:
                return Change(str(picture), note=f"skipped: exiv2 cannot write metadata into {suffix or 'this'} files")
            target, iptc = picture, suffix in WITH_IPTC
            keep = picture.stat() if self.keep_mtime else None
            data = picture.read_bytes()
        _writable(target)
        new, (added, removed) = _rewrite(target, data, lambda image: _retag(image, labels, paths, self.record, iptc))
        change = Change(str(target), added, removed)
        if self.mode == "embed" and picture.suffix.lower() not in WITH_IPTC:
            change.note = "XMP only: this format has no IPTC block"
        if new is not None and not self.dry_run:
            _write(target, new, keep)
            change.written = True
        return change


def remove(picture: str | Path, dry_run: bool = False, keep_mtime: bool = True) -> Iterator[Change]:
    """Takes pyml's keywords out of a picture's sidecar and out of the picture; a sidecar
    left with nothing else in it is deleted. Yields a Change per file that had any."""
    picture = Path(picture)
    sidecar = sidecar_of(picture)
    if sidecar.is_file():
        _writable(sidecar)
        new, (_, removed, empty) = _rewrite(sidecar, sidecar.read_bytes(), _strip("mirror"))
        if removed or new is not None or empty:
            change = Change(str(sidecar), removed=removed)
            if empty:  # exiv2 writes no empty packet (it would keep the old one): the file goes
                change.note = "deleted: nothing else was in it"
            if not dry_run:
                if empty:
                    sidecar.unlink()
                elif new is not None:
                    _write(sidecar, new, None)
                change.written = True
            yield change
    if picture.suffix.lower() in EMBEDDABLE:
        keep = picture.stat() if keep_mtime else None
        new, (_, removed, _) = _rewrite(picture, picture.read_bytes(), _strip(picture.suffix.lower() in WITH_IPTC))
        if new is not None:
            _writable(picture)
            change = Change(str(picture), removed=removed)
            if not dry_run:
                _write(picture, new, keep)
                change.written = True
            yield change


def _strip(iptc: Any) -> Any:
    """The edit that takes pyml's keywords out; it also says whether any XMP is left."""

    def edit(image: Any) -> tuple[list[str], list[str], bool]:
        added, removed = _retag(image, [], [], {}, iptc)
        return added, removed, not image.read_xmp()

    return edit


__all__ = ["MODES", "PREFIX", "Change", "MetadataWriter", "hierarchical", "remove", "sidecar_of"]
