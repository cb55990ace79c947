"""atheris harness over pyml's native entry points: decode, the batch
preprocessor (bytes and arrays) and the postprocess.

Contract under test: whatever the bytes, arrays or arguments, a call returns a
well-formed answer or raises a ValueError/TypeError (pyml's InputError is a
ValueError); never a crash, a sanitizer report, or another exception type.

Smoke run (what the test suite does):
    python tests/reliability/fuzz_native.py -atheris_runs=3000 tests/reliability/corpus
Long run with ASan on a coverage-instrumented module (see tools/fuzz.sh):
    PYML_FUZZ_NATIVE=build/fuzz-python/module LD_PRELOAD=<atheris>/asan_with_fuzzer.so \
        python tests/reliability/fuzz_native.py -max_total_time=1800 <corpus dirs>
"""

from __future__ import annotations

import importlib.util
import os
import sys

import atheris
import numpy as np


def _load_native():
    """The installed pyml._native, or an instrumented build from $PYML_FUZZ_NATIVE."""
    folder = os.environ.get("PYML_FUZZ_NATIVE")
    if not folder:
        from pyml import _native

        return _native
    path = next(p for p in os.listdir(folder) if p.startswith("_native."))
    spec = importlib.util.spec_from_file_location("pyml._native", os.path.join(folder, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules["pyml._native"] = module
    spec.loader.exec_module(module)
    return module


native = _load_native()  # first: importing pyml would load the installed module
import pyml.errors  # noqa: E402  (what the native code raises)

MAX_PIXELS = 1 << 18  # keeps one input from taking seconds; the limit logic is the same at any size
PREPROCESSORS: dict = {}
ALLOWED = (ValueError, TypeError)


def preprocessor(fdp: atheris.FuzzedDataProvider):
    key = (
        fdp.ConsumeBool(),
        fdp.ConsumeBool(),
        fdp.ConsumeBool(),
        fdp.ConsumeIntInRange(1, 40),
        fdp.ConsumeIntInRange(1, 40),
    )
    if key not in PREPROCESSORS:
        short, cv2_filter, fast, width, height = key
        spec = native.PreprocessSpec(
            resize_mode="short" if short else "stretch",
            width=width,
            height=height,
            short_side=width,
            filter="cv2_linear" if cv2_filter else "pil_bilinear",
            decode_mode="fast" if fast else "exact",
            max_pixels=MAX_PIXELS,
        )
        PREPROCESSORS[key] = native.Preprocessor(spec, threads=1)
    return PREPROCESSORS[key]


def fuzz_decode(data: bytes) -> None:
    try:
        image = native.decode(data, max_pixels=MAX_PIXELS)
    except pyml.errors.InputError:
        return
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.size > 0


def fuzz_preprocess(fdp: atheris.FuzzedDataProvider) -> None:
    pre = preprocessor(fdp)
    items = []
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        if fdp.ConsumeBool():
            h, w, c = fdp.ConsumeIntInRange(0, 20), fdp.ConsumeIntInRange(0, 20), fdp.PickValueInList([1, 2, 3, 4])
            dtype = fdp.PickValueInList([np.uint8, np.uint8, np.float32, np.int16])
            raw = fdp.ConsumeBytes(h * w * c * np.dtype(dtype).itemsize)
            array = np.frombuffer(raw.ljust(h * w * c * np.dtype(dtype).itemsize, b"\0"), dtype)
            array = array.reshape(h, w, c) if c != 1 or fdp.ConsumeBool() else array.reshape(h, w)
            if fdp.ConsumeBool() and array.ndim >= 2 and array.shape[1] > 1:
                array = array[:, ::2]  # not contiguous
            items.append(array)
        else:
            items.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096)))
    try:
        tensor, errors = pre.run(items, errors="return")
    except ALLOWED:  # e.g. resize_short giving items of different sizes
        return
    assert tensor.shape[0] == len(items) and tensor.dtype == np.float32
    assert all(0 <= index < len(items) for index, _, _ in errors)
    bad = {index for index, _, _ in errors}
    for i in range(len(items)):
        if i not in bad:
            assert np.isfinite(tensor[i]).all()


def fuzz_postprocess(fdp: atheris.FuzzedDataProvider) -> None:
    rows, classes = fdp.ConsumeIntInRange(0, 4), fdp.ConsumeIntInRange(0, 90)
    values = [fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else fdp.ConsumeFloat() for _ in range(rows * classes)]
    with np.errstate(over="ignore"):  # doubles beyond float32 become inf, on purpose
        scores = np.array(values, np.float32).reshape(rows, classes)
    if fdp.ConsumeBool():
        threshold = fdp.ConsumeFloatInRange(-1.0, 2.0)
    else:
        threshold = [fdp.ConsumeFloatInRange(0.0, 1.0) for _ in range(fdp.ConsumeIntInRange(0, 92))]
    top_k = fdp.PickValueInList([None, 0, -3, 1, 5, 1 << 30])
    sigmoid = fdp.ConsumeBool()
    try:
        labels = native.postprocess(scores, threshold, top_k, sigmoid)
    except ALLOWED:
        return
    assert len(labels) == rows
    for ids, kept in labels:
        assert len(ids) == len(kept) == len(set(ids))
        assert all(0 <= c < classes for c in ids)
        assert kept == sorted(kept, reverse=True) or any(np.isnan(kept))
        if top_k:
            assert len(ids) <= top_k


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    choice = fdp.ConsumeIntInRange(0, 3)
    if choice == 0:
        fuzz_decode(data)  # the whole input as a file: the seed corpus is plain JPEG/PNG files
    elif choice == 1:
        fuzz_postprocess(fdp)
    else:
        fuzz_preprocess(fdp)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
