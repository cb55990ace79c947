"""Options that are also command-line flags, defined once: a dataclass field carries its
flag's help, type and argparse extras in its metadata (`flag()`), and `add_flags()` turns
the fields into flags. PipelineConfig (config.py), ServerOptions (serving/options.py) and
TrainOptions (train/options.py) are written this way, so a default, a choice list or a
help text has one home, and the commands generate their flags from it.

Kept free of argparse at import and of everything else in pyml, so that an options
module can use it without importing the command line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Metadata keys of flag() that are not argparse's: the flag's own name when it differs from
# the field's, a mutually exclusive group, the flag's default when it differs from the field's.
_OWN_KEYS = ("help", "type", "flag", "group", "flag_default")


def flag(default: Any = dataclasses.MISSING, help: str = "", type: type | None = None, **argparse_options: Any) -> Any:  # noqa: A002
    """A dataclass field that is also a flag. `argparse_options`: choices, metavar, required,
    and this module's own `flag` (its name, e.g. "model" for the field `arch`), `group` (flags
    of one mutually exclusive group share it), `flag_default` (the flag's default, e.g. None
    where "not given" means something else than the field's default)."""
    return dataclasses.field(default=default, metadata={"help": help, "type": type, **argparse_options})


def flag_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of `cls` that are flags, in their order."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def flag_name(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("flag", field.name))


def add_flags(
    parser: Any,
    cls: type,
    names: tuple[str, ...] | None = None,
    *,
    defaults: bool = True,
    helps: dict[str, str] | None = None,
) -> None:
    """Adds `cls`'s flag fields (or the `names` among them) to `parser`. defaults=False:
    every flag defaults to None (the caller's config decides; the help says nothing of a
    default); otherwise the field's default (or its flag_default), named in the help."""
    fields = {f.name: f for f in flag_fields(cls)}
    groups: dict[str, Any] = {}
    for name in names or tuple(fields):
        field = fields[name]
        meta = field.metadata
        target = parser
        if "group" in meta:
            if meta["group"] not in groups:
                groups[meta["group"]] = parser.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        extra = {k: v for k, v in meta.items() if k not in _OWN_KEYS}
        text = (helps or {}).get(name, meta["help"])
        option = f"--{flag_name(field)}"
        dest = {"dest": field.name} if flag_name(field) != field.name else {}
        if meta["type"] is bool:
            target.add_argument(option, action="store_true", help=text, **dest)
            continue
        default = meta.get("flag_default", field.default) if defaults else None
        if default is dataclasses.MISSING:
            default = None
        if defaults and default not in (None, False, "") and "flag_default" not in meta:
            text = f"{text} (default: {default})"
        target.add_argument(option, type=meta["type"], default=default, help=text, **dest, **extra)


__all__ = ["add_flags", "flag", "flag_fields", "flag_name"]
