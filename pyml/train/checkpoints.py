"""Checkpoints of a training run: OUT/checkpoints/epoch_K/ (weights, optimizer state with
structured names, history), OUT/checkpoints/latest naming the newest complete one; each
written whole or not at all, the last CHECKPOINTS_KEPT kept."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from ..atomic import atomic_dir, atomic_write_text
from .report import History
from .weights import rename_optimizer_state

CHECKPOINTS_KEPT = 2


def save_checkpoint(root: Path, epoch: int, network, optimizer, history: History) -> None:
    import paddle

    final = root / f"epoch_{epoch}"
    with atomic_dir(final) as staging:
        paddle.save(network.state_dict(), str(staging / "model.pdparams"))
        to_structured = {p.name: n for n, p in network.named_parameters()}
        paddle.save(rename_optimizer_state(optimizer.state_dict(), to_structured), str(staging / "model.pdopt"))
        (staging / "state.json").write_text(json.dumps({"epoch": epoch, **asdict(history)}, indent=1))
    atomic_write_text(root / "latest", final.name)
    for old in sorted(root.glob("epoch_*"), key=lambda p: int(p.name.split("_")[1]))[:-CHECKPOINTS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(root: Path, network, optimizer) -> tuple[int, History]:
    """Restores the newest checkpoint into network and optimizer; (0, History()) if none."""
    import paddle

    latest = root / "latest"
    if not latest.is_file():
        return 0, History()
    folder = root / latest.read_text().strip()
    network.set_state_dict(paddle.load(str(folder / "model.pdparams")))
    from_structured = {n: p.name for n, p in network.named_parameters()}
    optimizer.set_state_dict(rename_optimizer_state(paddle.load(str(folder / "model.pdopt")), from_structured))
    state = json.loads((folder / "state.json").read_text())
    epoch = state.pop("epoch")
    return epoch, History(**state)


__all__ = ["CHECKPOINTS_KEPT", "load_checkpoint", "save_checkpoint"]
