"""The errors pyml raises on purpose. Every one derives from `PymlError`."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """The machine-readable kind of an InputError (`error.reason`); a str, so it prints,
    compares and serializes as its value."""

    # from the native core: the image bytes or array
    EMPTY = "empty"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    INVALID_ARRAY = "invalid_array"
    # from reading inputs
    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    DOWNLOAD = "download"
    NO_IMAGES_IN_FOLDER = "no_images"
    # from saving and drawing results
    UNSAFE_NAME = "unsafe_name"
    IMAGE_NOT_KEPT = "image_not_kept"
    # from the server's doors
    MALFORMED = "malformed"
    BASE64 = "base64"
    URL_REFUSED = "url_refused"


class PymlError(Exception):
    """Base class of every error pyml raises on purpose."""


# Advice in an error names what the user can type where they are: a flag on the command
# line, an argument in Python. The `pyml` command sets this when it starts.
_ON_THE_COMMAND_LINE = False


def use_command_line_advice() -> None:
    global _ON_THE_COMMAND_LINE
    _ON_THE_COMMAND_LINE = True


def advice(command_line: str, python: str) -> str:
    """The piece of advice that fits where pyml is running."""
    return command_line if _ON_THE_COMMAND_LINE else python


class InputError(PymlError, ValueError):
    """An input image is empty, truncated, corrupt, unsupported, too large or malformed.

    `reason` is a stable machine-readable kind (``"empty"``, ``"truncated"``,
    ``"corrupt"``, ``"unsupported"``, ``"too_large"``, ``"invalid_array"``, or
    one of the Python layer's own such as ``"not_found"``); `index` is the
    position in the batch when the error came from a batch; `source` names the
    input (path, URL or ``<ndarray 0>``) when known.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        index: int | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = Reason(reason) if reason is not None and reason in Reason._value2member_map_ else reason
        self.index = index
        self.source = source


class ModelError(PymlError):
    """A model directory or its inference.yml is missing, incomplete or invalid."""


class ConfigError(PymlError, ValueError):
    """A pipeline configuration or a call argument is invalid."""


class BackendError(PymlError, RuntimeError):
    """The inference runtime failed or the requested device is unavailable."""


def require_extra(what: str, extra: str, *modules: str) -> None:
    """One line naming the extra to install when an optional dependency is missing, before
    the work starts (and never an ImportError's traceback from deep inside it)."""
    import importlib.util  # noqa: PLC0415

    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"{what} needs {', '.join(missing)}, which is not installed: pip install 'pyml[{extra}]'")


class ServiceError(PymlError):
    """A pyml server refused a call, or an image of a stream, for a reason that is not the
    image (transport, overload, draining, deadline, an unknown model...). `code` is the
    grpc.StatusCode name, e.g. "RESOURCE_EXHAUSTED"; `reason` pyml's, e.g. "overloaded"."""

    def __init__(self, message: str, *, code: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason or code.lower()


__all__ = [
    "BackendError",
    "ConfigError",
    "InputError",
    "ModelError",
    "PymlError",
    "Reason",
    "ServiceError",
    "require_extra",
]


def count(n: int, noun: str) -> str:
    """'1 image', '2 images': for messages a person reads."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def named(source: str, message: str) -> str:
    """`source: message`, unless the message already starts with the source's name (a
    server's or a library's message often does): a name is said once."""
    base = source.rsplit("/", 1)[-1]
    if message.startswith((f"{source}:", f"{base}:")):
        return message
    return f"{source}: {message}"
