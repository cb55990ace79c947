"""A model repository on disk, in Triton's layout, so operators know it:

    REPOSITORY/
      <model>/                 one folder per model; its name is the model's name
        model.yaml             optional policy: versions: all | latest | [1, 3]; default_version: N
        1/                     a version: a PaddleX model directory, or a folder holding one
        2/                     pipeline YAML (its relative model_dir read beside it)

This module only reads the disk: what models and versions exist, which to serve, and a
fingerprint of each version (files, sizes, times) that changes when its files do. What is
loaded is the server's state (state.py); control.py moves models from one to the other.
Every name a caller gives is checked to be a plain folder of the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError
from .errors import UnknownModel

POLICY_FILE = "model.yaml"
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class VersionOnDisk:
    model: str
    version: str  # a positive integer, as a folder name
    source: Path  # what create_pipeline takes: a pipeline YAML, or the folder (a model directory)
    fingerprint: tuple  # (relative path, size, mtime_ns) of every file: changes when the files do


class Repository:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ConfigError(f"--model_repository {root}: not a folder")

    def folder(self, name: str) -> Path:
        """The model's folder; UnknownModel unless `name` is a plain folder name inside the repository."""
        if not MODEL_NAME.match(name or "") or name in (".", ".."):
            raise UnknownModel(
                f"'{name}' is not a model name (letters, digits, '_', '.', '-'; a folder of the repository)"
            )
        folder = (self.root / name).resolve()
        if folder.parent != self.root:  # a symbolic link out of the repository
            raise UnknownModel(f"model '{name}': its folder is outside the repository {self.root}")
        if not folder.is_dir():
            raise UnknownModel(f"no model '{name}' in the repository {self.root}")
        return folder

    def models(self) -> list[str]:
        """Every model folder (with at least one version), sorted."""
        found = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and MODEL_NAME.match(path.name) and self._version_folders(path):
                found.append(path.name)
        return found

    @staticmethod
    def _version_folders(folder: Path) -> list[Path]:
        return sorted(
            (p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0),
            key=lambda p: int(p.name),
        )

    def policy(self, name: str) -> dict:
        path = self.folder(name) / POLICY_FILE
        if not path.is_file():
            return {}
        try:
            policy = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: not a readable YAML file ({exc})") from None
        unknown = set(policy) - {"versions", "default_version"} if isinstance(policy, dict) else {"(not a mapping)"}
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: versions, default_version"
            )
        return policy

    def served(self, name: str) -> tuple[dict[str, VersionOnDisk], str | None]:
        """The versions to serve (by the model's policy: every version unless it says
        `latest` or a list) and the default version it names (None: the highest)."""
        folder = self.folder(name)
        policy = self.policy(name)
        on_disk = {p.name: p for p in self._version_folders(folder)}
        wanted = policy.get("versions", "all")
        if wanted == "latest":
            keep = list(on_disk)[-1:]
        elif wanted == "all":
            keep = list(on_disk)
        elif isinstance(wanted, list) and all(isinstance(v, int) for v in wanted):
            keep = [str(v) for v in wanted if str(v) in on_disk]
        else:
            raise ConfigError(
                f"{folder / POLICY_FILE}: versions must be all, latest or a list of numbers, not {wanted!r}"
            )
        default = policy.get("default_version")
        if default is not None and str(default) not in keep:
            raise ConfigError(
                f"{folder / POLICY_FILE}: default_version {default} is not among the served versions {keep}"
            )
        return {v: self._version(name, on_disk[v]) for v in keep}, None if default is None else str(default)

    def _version(self, name: str, folder: Path) -> VersionOnDisk:
        yamls = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if (folder / "inference.yml").is_file():
            source = folder
        elif len(yamls) == 1:
            source = yamls[0]
        else:
            raise ConfigError(
                f"{folder}: a version folder holds a PaddleX model directory (inference.yml, ...) or one "
                f"pipeline YAML; found {len(yamls)} YAML files"
            )
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        fingerprint = tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
        return VersionOnDisk(name, folder.name, source, fingerprint)


__all__ = ["POLICY_FILE", "Repository", "VersionOnDisk"]
