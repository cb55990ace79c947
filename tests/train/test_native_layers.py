"""The native training kernels (depthwise convolution, hard swish, ReLU, the learnable
affine) against Paddle's own layers, and the context that swaps them into a network's
training step."""

import contextlib

import numpy as np
import pytest

from pyml import _native

paddle = pytest.importorskip("paddle")
F = paddle.nn.functional

# (batch, channels, height, width, kernel, stride, padding): the geometries of PP-LCNet
# and PP-HGNetV2, plus odd sizes where a tap's span is empty or cut at both ends; small
# stride-1 planes take the padded-copy loops, the 100x90 one the row loops.
GEOMETRIES = [
    (1, 2, 100, 90, 3, 1, 1),
    (1, 2, 100, 90, 5, 1, 2),
    (2, 4, 17, 17, 3, 1, 1),
    (2, 4, 17, 16, 3, 2, 1),
    (2, 3, 9, 11, 5, 1, 2),
    (2, 3, 9, 11, 5, 2, 2),
    (1, 2, 5, 4, 5, 2, 2),
    (1, 2, 6, 7, 3, 1, 0),
    (3, 5, 40, 33, 3, 1, 1),
]


def close(ours, theirs, rel=1e-4):
    """Equal up to float32 rounding of sums taken in another order: the difference is
    measured against the largest value, so no CPU's rounding decides it."""
    scale = max(float(np.abs(theirs).max()), 1e-6)
    return float(np.abs(ours - theirs).max()) <= rel * scale


def paddle_depthwise(x, w, dy, stride, pad):
    xt, wt = paddle.to_tensor(x, stop_gradient=False), paddle.to_tensor(w[:, None], stop_gradient=False)
    y = F.conv2d(xt, wt, stride=stride, padding=pad, groups=x.shape[1])
    y.backward(paddle.to_tensor(dy))
    return y.numpy(), xt.grad.numpy(), wt.grad.numpy()[:, 0]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_depthwise_matches_paddles_convolution(geometry):
    n, c, h, w, k, stride, pad = geometry
    rng = np.random.default_rng(sum(geometry))
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    weights = rng.standard_normal((c, k, k), dtype=np.float32)
    y = _native.depthwise_conv2d(x, weights, (stride, stride), (pad, pad), 2)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    dx, dw = _native.depthwise_conv2d_backward(x, weights, dy, (stride, stride), (pad, pad), True, 2)
    want_y, want_dx, want_dw = paddle_depthwise(x, weights, dy, stride, pad)
    assert y.shape == want_y.shape and dx.shape == x.shape and dw.shape == weights.shape
    assert close(y, want_y) and close(dx, want_dx) and close(dw, want_dw)


def test_depthwise_gives_the_same_bits_on_any_number_of_threads():
    """A resumed run must get an uninterrupted run's weights: no sum depends on the split."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 23, 19), dtype=np.float32)
    weights = rng.standard_normal((6, 5, 5), dtype=np.float32)
    dy = rng.standard_normal((4, 6, 23, 19), dtype=np.float32)
    runs = [
        (
            _native.depthwise_conv2d(x, weights, (1, 1), (2, 2), threads),
            *_native.depthwise_conv2d_backward(x, weights, dy, (1, 1), (2, 2), True, threads),
        )
        for threads in (1, 2, 3)
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert np.array_equal(a, b)


def test_depthwise_skips_the_input_gradient_when_not_asked():
    x = np.ones((1, 2, 4, 4), np.float32)
    dx, dw = _native.depthwise_conv2d_backward(x, np.ones((2, 3, 3), np.float32), x, (1, 1), (1, 1), False, 1)
    assert dx is None and dw.shape == (2, 3, 3)


def test_hardswish_matches_paddles_including_the_kinks():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((3, 7, 11, 13)) * 4).astype(np.float32)
    x.flat[:6] = [-3.0, 3.0, 0.0, -3.0000002, 2.9999998, 6.0]
    dy = rng.standard_normal(x.shape, dtype=np.float32)
    xt = paddle.to_tensor(x, stop_gradient=False)
    y = F.hardswish(xt)
    y.backward(paddle.to_tensor(dy))
    assert close(_native.hardswish(x, 2), y.numpy(), rel=1e-6)
    assert close(_native.hardswish_backward(x, dy, 2), xt.grad.numpy(), rel=1e-6)


def test_relu_and_the_affine_match_paddles():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 33, 31), dtype=np.float32)
    dy = rng.standard_normal(x.shape, dtype=np.float32)
    xt = paddle.to_tensor(x, stop_gradient=False)
    y = F.relu(xt)
    y.backward(paddle.to_tensor(dy))
    assert np.array_equal(_native.relu(x, 2), y.numpy())
    assert np.array_equal(_native.relu_backward(y.numpy(), dy, 2), xt.grad.numpy())

    xt = paddle.to_tensor(x, stop_gradient=False)
    scale = paddle.to_tensor([0.75], stop_gradient=False)
    bias = paddle.to_tensor([-0.25], stop_gradient=False)
    y = scale * xt + bias
    y.backward(paddle.to_tensor(dy))
    dx, dscale, dbias = _native.affine_backward(x, dy, 0.75, 2)
    assert close(_native.affine(x, 0.75, -0.25, 2), y.numpy(), rel=1e-6)
    assert close(dx, xt.grad.numpy(), rel=1e-6)
    assert abs(dscale - float(scale.grad[0])) <= 1e-4 * float(np.abs(dy * x).sum())
    assert abs(dbias - float(bias.grad[0])) <= 1e-4 * float(np.abs(dy).sum())


def test_the_affines_sums_are_the_same_on_any_number_of_threads():
    rng = np.random.default_rng(8)
    x = rng.standard_normal(300_001, dtype=np.float32)  # several chunks and a ragged end
    dy = rng.standard_normal(x.shape, dtype=np.float32)
    runs = [_native.affine_backward(x, dy, 1.5, threads) for threads in (1, 2, 3)]
    for dx, dscale, dbias in runs[1:]:
        assert np.array_equal(dx, runs[0][0]) and dscale == runs[0][1] and dbias == runs[0][2]


def ones(*shape, dtype=np.float32):
    return np.ones(shape, dtype)


def conv(x, w, stride=(1, 1), pad=(1, 1)):
    return lambda: _native.depthwise_conv2d(x, w, stride, pad)


@pytest.mark.parametrize(
    "call, error",
    [
        (conv(ones(1, 2, 4, 4, dtype=np.float64), ones(2, 3, 3)), TypeError),
        (conv(ones(2, 4, 4), ones(2, 3, 3)), ValueError),
        (conv(ones(1, 2, 4, 4), ones(3, 3, 3)), ValueError),
        (conv(ones(1, 2, 4, 4), ones(2, 3, 3), stride=(0, 1)), ValueError),
        (conv(ones(1, 2, 2, 2), ones(2, 5, 5), pad=(0, 0)), ValueError),
        (conv(ones(1, 2, 4, 4)[:, :, ::2], ones(2, 3, 3)), TypeError),
        (lambda: _native.hardswish_backward(ones(4), ones(5)), ValueError),
    ],
    ids=["float64", "3-d input", "channel count", "stride 0", "kernel larger than input", "not contiguous", "dy shape"],
)
def test_bad_arrays_are_clear_errors(call, error):
    with pytest.raises(error):
        call()


def step_gradients(network, x, context):
    """(loss, {parameter: gradient}) of one step of network on x with the forward inside
    `context`; dropout draws the same masks every time."""
    paddle.seed(1)
    with context:
        loss = network(x).square().mean()
    loss.backward()
    grads = {p.name: p.grad.numpy().copy() for p in network.parameters() if p.grad is not None}
    network.clear_gradients()
    return float(loss), grads


# The native kinds each architecture has (PP-LCNet: 13 depthwise layers and hard swish;
# PP-HGNetV2-B0: 12 depthwise layers, ReLU and the learnable affine blocks).
KINDS = {
    "PP-LCNet_x1_0_ML": {"depthwise": 13, "hardswish": None, "relu": None},
    "PP-HGNetV2-B0_ML": {"depthwise": 12, "relu": None, "affine": None},
}


@pytest.mark.filterwarnings("ignore:When training, we now always track global mean")
@pytest.mark.parametrize("arch", KINDS)
def test_a_network_trains_on_the_native_layers_like_on_paddles_and_gets_them_back(arch):
    from collections import Counter

    from pyml.train.native_layers import NativeLayers, native_kind
    from pyml.train.networks import build_network

    paddle.seed(0)
    network = build_network(arch, 5)
    network.train()
    native = NativeLayers(network, 2)
    counts = Counter(native_kind(layer) for layer in native.layers)
    assert counts.keys() == KINDS[arch].keys()
    assert all(counts[kind] == n for kind, n in KINDS[arch].items() if n is not None)
    x = paddle.to_tensor(np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32))
    loss_paddle, want = step_gradients(network, x, contextlib.nullcontext())
    loss_native, got = step_gradients(network, x, native)
    assert abs(loss_native - loss_paddle) <= 1e-5 * abs(loss_paddle)
    assert want.keys() == got.keys()
    # A layer's gradient is compared against the largest of the whole network's, so that
    # a tensor whose gradient cancels to ~1e-9 (a bias before a layer norm) is not judged
    # on its own rounding.
    largest = max(float(np.abs(g).max()) for g in want.values())
    worst = max(float(np.abs(got[k] - want[k]).max()) for k in want)
    assert worst <= 1e-4 * largest
    assert all("forward" not in vars(layer) for layer in native.layers)  # Paddle's layers are back


@pytest.mark.filterwarnings("ignore:When training, we now always track global mean")
@pytest.mark.parametrize("arch", ["pyml-small-convnet", "PP-LCNet_x1_0_ML"])
def test_two_identical_steps_on_the_native_layers_give_the_same_bits(arch):
    """The kernels' arrays are 64-byte aligned: on numpy's own (16-byte) alignment the MKL
    GEMMs of the next layers rounded differently from call to call, and two identical
    training runs drifted apart."""
    from pyml.train.native_layers import NativeLayers
    from pyml.train.networks import build_network

    paddle.seed(0)
    network = build_network(arch, 10)
    network.train()
    native = NativeLayers(network, 2)
    x = paddle.to_tensor(np.random.default_rng(0).random((32, 3, 64, 64), dtype=np.float32))
    _, first = step_gradients(network, x, native)
    for _ in range(3):
        _, again = step_gradients(network, x, native)
        assert all(np.array_equal(first[k], again[k]) for k in first)
