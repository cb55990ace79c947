"""The layers of a training step that Paddle's dynamic graph runs slowly on a CPU, on
pyml's native kernels instead.

Paddle computes a depthwise convolution on the CPU as one small GEMM per channel on one
thread, and elementwise layers on one thread; in PP-LCNet_x1_0_ML at 448 the depthwise
layers took about a third of a full fine-tuning step and hard swish a seventh, in
PP-HGNetV2-B0_ML ReLU and the learnable affine blocks about a sixth.
`NativeLayers(network, threads)` is a context in which the network's depthwise Conv2D
layers (groups = channels, no bias, no dilation, zero padding, NCHW), Hardswish and ReLU
layers and PP-HGNetV2's LearnableAffineBlock run forward and backward in `pyml._native`
(csrc/src/depthwise.cpp, elementwise.cpp), on every core, each sum in a fixed order.
Tensors pass by DLPack, without copies; the kernels' output buffers are 64-byte aligned
and, once freed, kept (up to 1 GiB) for the next step's same-sized outputs.

Only the training steps use it: evaluation and the export keep Paddle's layers, so the
exported program is the one PaddleX would write. The elementwise forwards give Paddle's
bits; the convolution's forward is usually bit-identical, and the gradients agree to
float32 rounding (a few units in the last place of each sum).
"""

from __future__ import annotations

import numpy as np

from .. import _native


def _symmetric_padding(layer) -> tuple[int, int] | None:
    """(pad_h, pad_w) when the layer pads each side of an axis alike, else None."""
    pad = layer._padding
    if isinstance(pad, int):
        return pad, pad
    if isinstance(pad, (list, tuple)) and all(isinstance(p, int) for p in pad):
        if len(pad) == 2:
            return pad[0], pad[1]
        if len(pad) == 4 and pad[0] == pad[1] and pad[2] == pad[3]:
            return pad[0], pad[2]
    return None  # "SAME"/"VALID" strings or uneven padding: Paddle's layer keeps them


def is_native_depthwise(layer) -> bool:
    from paddle import nn

    return (
        isinstance(layer, nn.Conv2D)
        and layer._groups == layer._in_channels == layer._out_channels
        and layer.bias is None
        and list(layer._dilation) == [1, 1]
        and layer._data_format == "NCHW"
        and layer._padding_mode == "zeros"
        and _symmetric_padding(layer) is not None
    )


def _as_numpy(tensor) -> np.ndarray:
    """The tensor's memory as an array: no copy when it is contiguous, which a layer's
    input and parameters are (a strided view is made contiguous first)."""
    tensor = tensor.detach()  # DLPack refuses tensors that require gradients
    if not tensor.is_contiguous():
        tensor = tensor.contiguous()
    return np.from_dlpack(tensor)


def _filters(weight) -> np.ndarray:
    """A depthwise layer's weight [C, 1, kh, kw] as the kernels take it, [C, kh, kw]."""
    w = _as_numpy(weight)
    return w.reshape(w.shape[0], *w.shape[2:])


def _functions():
    """The PyLayers, made on first use so that importing this module needs no paddle."""
    import paddle
    from paddle.autograd import PyLayer
    from paddle.utils.dlpack import from_dlpack

    class DepthwiseConv2D(PyLayer):
        @staticmethod
        def forward(ctx, x, weight, stride, padding, threads):
            ctx.save_for_backward(x, weight)
            ctx.geometry = (stride, padding, threads)
            return from_dlpack(_native.depthwise_conv2d(_as_numpy(x), _filters(weight), stride, padding, threads))

        @staticmethod
        def backward(ctx, dy):
            x, weight = ctx.saved_tensor()
            stride, padding, threads = ctx.geometry
            dx, dw = _native.depthwise_conv2d_backward(
                _as_numpy(x),
                _filters(weight),
                _as_numpy(dy),
                stride,
                padding,
                need_dx=not x.stop_gradient,
                threads=threads,
            )
            dweight = from_dlpack(dw.reshape(weight.shape))
            return (from_dlpack(dx) if dx is not None else None), dweight

    def elementwise(name: str, forward, backward, keeps_output: bool):
        """A PyLayer for y = forward(x) whose backward(saved, dy) reads x, or y when the
        layer keeps its output (ReLU, as Paddle does)."""

        def run_forward(ctx, x, threads):
            y = from_dlpack(forward(_as_numpy(x), threads))
            ctx.save_for_backward(y if keeps_output else x)
            ctx.threads = threads
            return y

        def run_backward(ctx, dy):
            (saved,) = ctx.saved_tensor()
            return from_dlpack(backward(_as_numpy(saved), _as_numpy(dy), ctx.threads))

        return type(name, (PyLayer,), {"forward": staticmethod(run_forward), "backward": staticmethod(run_backward)})

    class Affine(PyLayer):
        @staticmethod
        def forward(ctx, x, scale, bias, threads):
            ctx.save_for_backward(x, scale)
            ctx.threads = threads
            return from_dlpack(_native.affine(_as_numpy(x), scale.item(), bias.item(), threads))

        @staticmethod
        def backward(ctx, dy):
            x, scale = ctx.saved_tensor()
            dx, dscale, dbias = _native.affine_backward(_as_numpy(x), _as_numpy(dy), scale.item(), ctx.threads)
            return from_dlpack(dx), paddle.to_tensor([dscale], "float32"), paddle.to_tensor([dbias], "float32")

    return {
        "depthwise": DepthwiseConv2D,
        "hardswish": elementwise("Hardswish", _native.hardswish, _native.hardswish_backward, keeps_output=False),
        "relu": elementwise("ReLU", _native.relu, _native.relu_backward, keeps_output=True),
        "affine": Affine,
    }


def native_kind(layer) -> str | None:
    """Which native kernel runs this layer: depthwise, hardswish, relu, affine, or None."""
    from paddle import nn

    if is_native_depthwise(layer):
        return "depthwise"
    if isinstance(layer, nn.Hardswish):
        return "hardswish"
    if isinstance(layer, nn.ReLU):
        return "relu"
    # PP-HGNetV2's LearnableAffineBlock: scale * x + bias with two one-value parameters.
    if type(layer).__name__ == "LearnableAffineBlock" and [*layer.scale.shape, *layer.bias.shape] == [1, 1]:
        return "affine"
    return None


class NativeLayers:
    """`with NativeLayers(network, threads): logits = network(x)`: inside, the network's
    depthwise convolutions, hard swishes, ReLUs and learnable affine blocks run on the
    native kernels (their backward too, whenever it runs); outside, Paddle's own layers.
    Layers it cannot run keep Paddle's. The replacement forwards are made once, here;
    entering and leaving (once a training step) only swaps them in and out."""

    def __init__(self, network, threads: int) -> None:
        kinds = [(layer, native_kind(layer)) for layer in network.sublayers()]
        functions = _functions() if any(kind for _, kind in kinds) else {}
        threads = max(1, threads)
        self._forwards = [
            (layer, _native_forward(layer, functions[kind], kind, threads)) for layer, kind in kinds if kind
        ]
        self.layers = [layer for layer, _ in self._forwards]

    def __enter__(self) -> NativeLayers:
        for layer, forward in self._forwards:
            layer.forward = forward
        return self

    def __exit__(self, *exc) -> None:
        for layer in self.layers:
            del layer.forward  # back to the class's forward


def _native_forward(layer, function, kind: str, threads: int):
    """The layer's forward on its PyLayer, with the layer's own settings bound."""
    if kind == "depthwise":
        stride = (int(layer._stride[0]), int(layer._stride[1]))
        padding = _symmetric_padding(layer)
        return lambda x: function.apply(x, layer.weight, stride, padding, threads)
    if kind == "affine":
        return lambda x: function.apply(x, layer.scale, layer.bias, threads)
    return lambda x: function.apply(x, threads)
