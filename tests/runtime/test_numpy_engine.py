"""The numpy engine: LiteRT's builtin kernels' answers from NumPy alone, and refusals by name.

LiteRT's builtin kernels (no XNNPACK) define the integer arithmetic the engine reproduces, so
int8 files are compared code for code; XNNPACK requantizes in float and differs by one code
now and then, which is why the comparison with LiteRT's default is on the top-1 class.
"""

import struct
import subprocess
import sys

import numpy as np
import pytest

from fmnist_edge.runtime.backend_numpy import NumpyRunner
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.tflite_file import _Reader

from .conftest import BUNDLED
from .test_concurrency import check

TINY = BUNDLED / "doctor-tiny.tflite"
OPS = {"SOFTMAX": 25, "MAX_POOL_2D": 17}


def litert(data: bytes, x: np.ndarray, builtin: bool = True) -> np.ndarray:
    """The file's output on LiteRT: its builtin kernels, or (``builtin=False``) its default."""
    interpreter = pytest.importorskip("ai_edge_litert.interpreter")
    kw = ({"experimental_op_resolver_type":
           interpreter.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if builtin else {})
    it = interpreter.Interpreter(model_content=data, **kw)
    index = it.get_input_details()[0]["index"]
    it.resize_tensor_input(index, list(x.shape))
    it.allocate_tensors()
    it.set_tensor(index, x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def model_input(runner: NumpyRunner, pixels: np.ndarray) -> np.ndarray:
    """uint8 images as the file takes them: int8 pixel − 128, or float pixel / 255."""
    x = pixels.reshape(-1, 28, 28, 1)
    if runner.input_dtype == np.int8:
        return (x.astype(np.int16) - 128).astype(np.int8)
    return (x / np.float32(255)).astype(np.float32)


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)


def test_the_bundled_int8_model_gives_litert_builtin_codes_exactly(pixels):
    data = TINY.read_bytes()
    runner = NumpyRunner(data, "tiny")
    x = model_input(runner, pixels)
    mine = runner.run_batch(x)
    assert mine.dtype == np.int8 and np.array_equal(mine, litert(data, x))
    assert np.array_equal(runner.run_batch(x[:1]), mine[:1])  # batch 1 = the batch's first row


def test_a_classifier_runs_on_it_and_threads_get_the_sequential_answers(export_dir, pixels):
    clf = Classifier.load(export_dir, backend="numpy")
    assert clf.backend == "numpy" and clf.path.name == "model_int8.tflite"
    assert clf.describe()["delegate"] == "none (numpy)"
    assert clf.predict(pixels[0]).shape == (1, 10)
    check(clf, pixels, calls=300, batch_calls=20)


def _with_op_code(data: bytes, old: str, code: int) -> bytes:
    """The file with op ``old``'s builtin code replaced by ``code`` (codes over 127 are in the
    int32 field; the int8 field then holds 127, as the schema does it)."""
    r, out = _Reader(data, "patch"), bytearray(data)
    for table in r.tables(r.scalar("<I", 0), 6):
        if max(r.field(table, 10, "<i", 0), r.field(table, 4, "<b", 0)) == OPS[old]:
            for slot, fmt, value in ((10, "<i", code), (4, "<b", min(code, 127))):
                assert r.slot(table, slot) is not None
                struct.pack_into(fmt, out, r.slot(table, slot), value)
    return bytes(out)


def test_an_op_or_type_it_does_not_compute_is_refused_by_name(tmp_path):
    data = TINY.read_bytes()
    with pytest.raises(FmnistError, match=r"op builtin op 150: the numpy engine does not compute"):
        NumpyRunner(_with_op_code(data, "SOFTMAX", 150), "x.tflite")
    with pytest.raises(FmnistError, match=r"int8 TANH: the numpy engine does not compute"):
        NumpyRunner(_with_op_code(data, "SOFTMAX", 28), "x.tflite")
    path = tmp_path / "model.tflite"
    path.write_bytes(_with_op_code(data, "MAX_POOL_2D", 150))
    out = subprocess.run([sys.executable, "-m", "fmnist_edge.runtime.predict_cli", str(path),
                          str(tmp_path), "--backend", "numpy"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "builtin op 150" in out.stderr, out.stderr


def test_damaged_files_are_one_line_errors():
    data = TINY.read_bytes()
    for bad in (data[: len(data) // 2], b"\0" * 64, data[:4] + b"XXXX" + data[8:], b"TFL3"):
        with pytest.raises(FmnistError, match="not a valid TFLite file"):
            NumpyRunner(bad, "bad.tflite")


@pytest.mark.slow
def test_every_tutorial_tflite_file_matches_litert_on_the_10k_test_images(tutorial_export):
    """int8 files: LiteRT's builtin codes exactly; float files within 1e-5; every file the same
    top-1 class as LiteRT's default on >= 99.9 % of the images (the counts are in the message)."""
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    pixels = load_fashion_mnist().x_test
    report = []
    for path in sorted(tutorial_export.out_dir.glob("*.tflite")):
        data = path.read_bytes()
        runner = NumpyRunner(data, path.name)
        x = model_input(runner, pixels)
        mine, builtin, default = runner.run_batch(x), litert(data, x), litert(data, x, False)
        differ = int((mine.argmax(1) != default.argmax(1)).sum())
        report.append(f"{path.name}: {differ} top-1 differ from LiteRT's default")
        assert differ <= 10, report
        if path.name == "model_int8.tflite":
            assert np.array_equal(mine, builtin), path.name
        elif path.name in ("model_float32.tflite", "model_float16.tflite"):
            assert np.abs(mine - builtin).max() <= 1e-5, path.name


def test_auto_prefers_an_installed_engine_and_falls_back_to_numpy(export_dir, monkeypatch):
    from fmnist_edge.runtime.backends import runnable_formats
    from fmnist_edge.runtime.formats import Format

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    assert runnable_formats() == [Format.ONNX]  # onnxruntime runs the folder's ONNX files
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert runnable_formats() == [Format.TFLITE]  # no engine at all: TFLite on numpy
    assert Classifier.load(export_dir).backend == "numpy"


@pytest.mark.parametrize("width, mode", [(9, "exact"), (2000, "checked"), (200_000, "float64")])
def test_int8_sums_are_exact_on_every_gemm_path(width, mode):
    """The three ways Int8Dense sums (float32 always exact, float32 checked with the nibble
    split when a row could pass 2^24, float64) give the int64 sums of the codes exactly."""
    from fmnist_edge.runtime.numpy_ops import Int8Dense
    from fmnist_edge.runtime.tflite_file import Quant, Tensor

    rng = np.random.default_rng(1)
    weights = rng.integers(-127, 128, (width, 4)).astype(np.int8)
    one = Quant(np.array([0.1], np.float32), np.array([-128]))
    tensor = Tensor("t", (1, width), np.dtype(np.int8), quant=one)
    layer = Int8Dense(tensor, weights, np.full(4, 0.01), None, tensor, None)
    assert layer.mode == mode
    codes = rng.integers(-128, 128, (3, width)).astype(np.int8)
    codes[0] = 127  # the largest row sums a layer can meet
    want = (codes.astype(np.int64) + 128) @ weights.astype(np.int64)
    assert np.array_equal(layer.acc(layer.prepare(codes)).astype(np.int64), want)


def _tflite_requantize(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier as tensorflow/lite/kernels/internal/common.h writes it, in
    Python integers (C++ division truncates towards zero)."""
    left, right = max(shift, 0), max(-shift, 0)
    a = x * (1 << left)
    ab = a * multiplier
    nudged = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    high = nudged // (1 << 31) if nudged >= 0 else -((-nudged) // (1 << 31))
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


@pytest.mark.parametrize("lo", [-128, -20])  # no activation; a ReLU whose floor is the zero point
def test_requantization_is_tflites_to_the_code(lo):
    from fmnist_edge.runtime.numpy_int8 import Requantizer, quantize_multiplier

    rng = np.random.default_rng(2)
    reals = np.concatenate([rng.uniform(1e-5, 0.999, 6), [0.5, 0.25, 2.0 ** -20, 1.5]])
    for real in reals:
        (m,), (shift,) = quantize_multiplier(real)
        # accumulators around the ties of both roundings, and across the int32 range used
        ties = np.arange(-40, 40) * 2 ** max(-int(shift), 0) // 2
        acc = np.concatenate([rng.integers(-2 ** 24, 2 ** 24, 2000), ties, [0, 1, -1]])
        got = Requantizer(real, -20, lo, 127)(acc.astype(np.int64))
        want = [min(max(_tflite_requantize(int(a), int(m), int(shift)) - 20, lo), 127) for a in acc]
        assert np.array_equal(got, np.array(want, np.int8)), real
