"""Checks that docs/architecture.md names every module of the package and of the native
core, and names no file that does not exist (a renamed or removed module).

    python -m tools.check_architecture        # exit 1 and one line per problem

A module is named when its file name appears in the page (in backticks, alone or in a
path); a `csrc/src/X.cpp` also when its header `X.h` is (the page says "a .cpp per
header"), a `pyml/cli/X.py` when the subcommand `X` is. Left out: generated code
(pyml/v1), `__main__.py` entry points, and folders the page describes as folders
(the try-it page's static files, the pybind11 bindings `bind_*.cpp`).

It also checks the one-home contracts a pattern can find (ONE_HOME): for example, only
pyml/atomic.py renames files into place.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
SOURCES = ("pyml/**/*.py", "pyml/**/*.html", "csrc/include/pyml/*.h", "csrc/src/*.cpp", "csrc/python/*.cpp")
SKIP_FOLDERS = ("pyml/v1", "pyml/serving/static", "csrc/python/bind_")  # described as folders
NAMED_FILE = re.compile(r"`([^`\s]+?\.(?:py|h|cpp|html|cmake\.in))`")


def modules() -> list[Path]:
    found = set()
    for pattern in SOURCES:
        for path in ROOT.glob(pattern):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(SKIP_FOLDERS) or path.name == "__main__.py":
                continue
            if path.name == "__init__.py" and path.stat().st_size < 200:  # a package marker
                continue
            found.add(path)
    return sorted(found)


def problems() -> list[str]:
    page = PAGE.read_text(encoding="utf-8")
    named = set()
    for token in NAMED_FILE.findall(page):
        named.update(part.strip() for part in token.split("+"))
    out = []
    for path in modules():
        relative = path.relative_to(ROOT).as_posix()
        also = []
        if relative.startswith("csrc/src/"):
            also.append(f"`{path.stem}.h`")
        if relative.startswith("pyml/cli/"):
            also.append(f"`{path.stem}`")
        if path.name not in page and not any(name in page for name in also):
            out.append(f"{relative}: not named in docs/architecture.md")
    existing = {p.name for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts and "build" not in p.parts}
    for token in sorted(named):
        if "*" not in token and Path(token).name not in existing:  # a pattern names a family
            out.append(f"docs/architecture.md names `{token}`, which no file is")
    return out


# One home each, as the page's Contracts section states them: (what, a pattern in the
# code, the only modules where it may appear).
ONE_HOME = (
    ("renaming a file into place (atomic writes)", re.compile(r"\bos\.(?:replace|rename)\("), {"pyml/atomic.py"}),
    (
        "writing YAML (inference.yml)",
        re.compile(r"\byaml\.(?:safe_)?dump(?:_all)?\("),
        {"pyml/model_dir.py"},
    ),
    (
        "naming an official model (its row in the catalogue)",
        re.compile(r"[\"'](?:PP-LCNet_x1_0|PP-HGNetV2-B[046]|ResNet50|CLIP_vit_base_patch16_448)_ML[\"']"),
        {"pyml/catalogue.py"},
    ),
)


def contract_problems() -> list[str]:
    out = []
    for what, pattern, homes in ONE_HOME:
        for path in sorted(ROOT.glob("pyml/**/*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in homes and pattern.search(path.read_text(encoding="utf-8")):
                out.append(f"{relative}: {what} belongs to {', '.join(sorted(homes))} alone")
    return out


def main() -> int:
    found = problems() + contract_problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
