"""Every accepted input kind, turned into ImageSources.

Accepted: a numpy array (HxWx3 **BGR** uint8, as PaddleX takes it, or HxW grey),
a file path, an http(s) URL (downloaded with a timeout and a size cap), a
directory (recursive, sorted, PaddleX's image suffixes), a dict {"img": ...},
and lists/tuples of all of these. Anything else is an InputError. A source
that cannot be read carries its error instead of data, so that one bad file in
a folder fails alone.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _native
from .errors import InputError, Reason

IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dib", ".jpeg", ".jpg", ".png", ".webp", ".pbm", ".pgm", ".ppm", ".pnm", ".sr", ".ras", ".tiff", ".tif"}
)
URL_TIMEOUT_S = 10.0
URL_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class ImageSource:
    """One input image: its name (path, URL or `<ndarray N>`) and its bytes or pixels."""

    name: str
    data: bytes | np.ndarray | None = None
    error: InputError | None = None


def _read_file(path: Path) -> ImageSource:
    name = str(path)
    try:
        return ImageSource(name, path.read_bytes())
    except PermissionError:
        return ImageSource(name, error=InputError(f"{name}: permission denied", reason=Reason.UNREADABLE, source=name))
    except OSError as exc:
        return ImageSource(
            name, error=InputError(f"{name}: cannot read: {exc.strerror or exc}", reason=Reason.UNREADABLE, source=name)
        )


def fetch_url(url: str, timeout: float = URL_TIMEOUT_S, max_bytes: int = URL_MAX_BYTES) -> ImageSource:
    """Downloads an image; every failure is an InputError with reason 'download'."""

    def failed(why: str) -> ImageSource:
        return ImageSource(url, error=InputError(f"{url}: {why}", reason=Reason.DOWNLOAD, source=url))

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http/https checked)
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                return failed(f"{int(length)} bytes is over the {max_bytes}-byte limit")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        return failed(f"HTTP {exc.code} {exc.reason}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return failed(f"download failed ({reason}); timeout is {timeout:g} s")
    if len(data) > max_bytes:
        return failed(f"more than the {max_bytes}-byte limit")
    return ImageSource(url, data)


def image_files(directory: Path) -> list[Path]:
    """The images a folder input covers: recursive, sorted, PaddleX's image suffixes."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _walk_directory(directory: Path) -> Iterator[ImageSource]:
    files = image_files(directory)
    if not files:
        name = str(directory)
        yield ImageSource(
            name,
            error=InputError(
                f"{name}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})",
                reason=Reason.NO_IMAGES_IN_FOLDER,
                source=name,
            ),
        )
    for path in files:
        yield _read_file(path)


class _Counter:
    def __init__(self) -> None:
        self.arrays = 0


def _sources(item: Any, counter: _Counter) -> Iterator[ImageSource]:
    if isinstance(item, np.ndarray):
        name = f"<ndarray {counter.arrays}>"
        counter.arrays += 1
        yield ImageSource(name, item)
    elif isinstance(item, (str, Path)):
        text = str(item)
        if text.startswith(("http://", "https://")):
            yield fetch_url(text)
            return
        path = Path(text).expanduser()
        if path.is_dir():
            yield from _walk_directory(path)
        elif path.exists():
            yield _read_file(path)
        else:
            yield ImageSource(
                text, error=InputError(f"{text}: no such file or directory", reason=Reason.NOT_FOUND, source=text)
            )
    elif isinstance(item, dict):
        if set(item) != {"img"}:
            raise InputError(
                f"a dict input must be {{'img': <image>}}, got keys {sorted(item)}", reason=Reason.UNSUPPORTED
            )
        yield from _sources(item["img"], counter)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        raise InputError(
            "raw bytes are not an input: pass a path, URL or decoded array (the gRPC service takes encoded bytes)",
            reason=Reason.UNSUPPORTED,
        )
    elif isinstance(item, (list, tuple)) or _is_stream(item):
        # any iterable (a generator feeding a stream, a set, a pandas Series), read lazily
        for element in item:
            yield from _sources(element, counter)
    else:
        raise InputError(
            f"cannot read an image from a {type(item).__name__}: expected a path, URL, "
            "directory, numpy array, {'img': ...} or a list or other iterable of these",
            reason=Reason.UNSUPPORTED,
        )


def _is_stream(item: Any) -> bool:
    """An iterable of inputs, other than the kinds that are one input themselves."""
    return isinstance(item, Iterable) and not isinstance(item, (str, bytes, dict, np.ndarray))


def iter_sources(inputs: Any) -> Iterator[ImageSource]:
    """Lazily yields the sources of `inputs`. A path that is missing, unreadable or an
    empty folder yields a source carrying its error; a value that is no image source
    at all (an int, raw bytes, a malformed dict) raises InputError."""
    yield from _sources(inputs, _Counter())


def native_item(source: ImageSource) -> bytes | np.ndarray:
    """What the native preprocessor takes: JPEG/PNG bytes as they are, arrays as they are,
    other formats (BMP, WebP, TIFF, ...) decoded by OpenCV into a BGR array."""
    data = source.data
    if isinstance(data, np.ndarray) or _native.sniff_format(data) is not None:
        return data
    from .opencv import cv2 as opencv

    cv2 = opencv()
    if not data:
        return data  # the native core reports it as empty
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise InputError(
            f"{source.name}: not a decodable image (unknown or corrupt format)",
            reason=Reason.UNSUPPORTED,
            source=source.name,
        )
    return decoded


def decode_file(path: Path) -> np.ndarray:
    """A picture file's pixels as the pipeline decodes them; for a file that does not
    decode, the InputError (and words) the pipeline gives. For checking files ahead of
    long work (check_dataset, quantize)."""
    item = native_item(ImageSource(str(path), path.read_bytes()))
    return item if isinstance(item, np.ndarray) else _native.decode(item)
