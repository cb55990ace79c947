"""Weights in and out of a network: matching tensors from another model, an exported
model directory's weights mapped back onto a freshly built network, and optimizer state
keyed by names that survive a new process."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError


def load_matching(network, state: dict, source: str) -> tuple[int, list[str]]:
    """Copies every tensor of `state` whose name and shape match the network's; returns how
    many were copied and the names left as initialised (e.g. a head for other classes)."""
    own = network.state_dict()
    matched = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
    if not matched:
        raise ConfigError(
            f"{source}: none of its {len(state)} tensors fit this architecture (wrong --model for these weights?)"
        )
    network.set_state_dict({**own, **matched})  # every key given: paddle warns about missing ones
    return len(matched), sorted(set(own) - set(matched))


def inference_state(model_dir: Path, network) -> dict:
    """The weights of an exported model directory, keyed by `network`'s structured names.

    A pyml export keeps its dygraph weights beside it (../best_model.pdparams). Any other
    export is read with paddle.jit.load, whose tensors keep the generated names they had
    when exported (plus a "_0"); networks are built in a fresh name scope (networks.py),
    so the same architecture gives its tensors the same names here."""
    import paddle

    beside = model_dir.parent / "best_model.pdparams"
    if beside.is_file():
        return paddle.load(str(beside))
    prefix = model_dir / "inference"
    try:
        with paddle.utils.unique_name.guard():  # the "_0" suffix grows with every load otherwise
            loaded = paddle.jit.load(str(prefix))
    except Exception as exc:  # paddle raises a variety of errors for unreadable programs
        raise ConfigError(f"{model_dir}: cannot read the exported weights ({exc})") from exc
    key_of = {tensor.name: key for key, tensor in network.state_dict().items()}
    state = {}
    for tensor in loaded.parameters():
        name = tensor.name if tensor.name in key_of else tensor.name.removesuffix("_0")
        if name in key_of:
            state[key_of[name]] = tensor
    if not state:
        raise ConfigError(
            f"{model_dir}: none of its tensors are named as --model's are; was it exported from this architecture?"
        )
    return state


def rename_optimizer_state(state: dict, names: dict[str, str]) -> dict:
    """Optimizer state keys are `<parameter name>_<accumulator>`, and parameter names are
    generated per process (conv2d_16.w_0); checkpoints store them under the structured
    names (`0.weight`) instead, so they load into any freshly built network."""
    ordered = sorted(names, key=len, reverse=True)
    renamed = {}
    for key, value in state.items():
        prefix = next((n for n in ordered if key.startswith(n + "_")), None)
        renamed[names[prefix] + key[len(prefix) :] if prefix else key] = value
    return renamed


__all__ = ["inference_state", "load_matching", "rename_optimizer_state"]
