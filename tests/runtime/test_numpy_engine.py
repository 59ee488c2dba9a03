"""The numpy engine: LiteRT's builtin kernels' answers from NumPy alone, and refusals by name.

LiteRT's builtin kernels (no XNNPACK) define the integer arithmetic the engine reproduces, so
int8 files are compared code for code; XNNPACK requantizes in float and differs by one code
now and then, which is why the comparison with LiteRT's default is on the top-1 class. The edge
CNN's and the ANN's files: tests/benchmarks/test_engines.py.
"""

import struct
import subprocess
import sys

import numpy as np
import pytest

from fmnist_edge.benchmarks.engines import model_input
from fmnist_edge.runtime.backend_litert import reference_outputs
from fmnist_edge.runtime.backend_numpy import NumpyRunner
from fmnist_edge.runtime.classifier import Classifier
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.tflite_file import _Reader

from .conftest import BUNDLED
from .test_concurrency import check

TINY = BUNDLED / "doctor-tiny.tflite"
OPS = {"SOFTMAX": 25, "MAX_POOL_2D": 17}


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)


def test_the_bundled_int8_model_gives_litert_builtin_codes_exactly(pixels):
    data = TINY.read_bytes()
    runner = NumpyRunner(data, "tiny")
    x = model_input(runner, pixels)
    mine = runner.run_batch(x)
    assert mine.dtype == np.int8 and np.array_equal(mine, reference_outputs(data, pixels, builtin=True))
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
    """int8 files: LiteRT's builtin codes exactly; float32 within 1e-5; every file the same
    top-1 class as LiteRT's builtin kernels on >= 99.9 % of the images (make numpy-check's
    verdict), and here as its default too (the tutorial CNN: at most 1 image of 10,000)."""
    from fmnist_edge.benchmarks import engines
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    pixels = load_fashion_mnist().x_test
    rows = [{"run": "seed-cnn", **engines.compare_file(path, pixels)}
            for path in sorted(tutorial_export.out_dir.glob("*.tflite"))]
    assert len(rows) == 6 and [f for row in rows for f in engines.failures(row)] == []
    assert sum(row.get("codes_vs_builtin", 0) for row in rows) == 0
    assert max(row["top1_vs_default"] for row in rows) <= 10


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
    """The builtin kernels' requantization, step by step in Python integers: the doubling high
    multiply rounded half up at 2^-31, then a rounding right shift, ties up."""
    left, right = max(shift, 0), max(-shift, 0)
    high = (x * (1 << left) * multiplier + (1 << 30)) >> 31
    return (high + ((1 << right) >> 1)) >> right


@pytest.mark.parametrize("lo", [-128, -20])  # no activation; a ReLU whose floor is the zero point
def test_requantization_is_the_builtin_kernels_to_the_code(lo):
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


def _with_op_version(data: bytes, op: str, version: int) -> bytes:
    """``data`` with every operator code of ``op`` set to ``version`` (a field the file stores)."""
    from fmnist_edge.runtime.tflite_file import _op_code

    r, out = _Reader(data, "t"), bytearray(data)
    model = r.table(r.scalar("<I", 0))
    for code in r.tables(model, 6):
        if _op_code(r, code) == op:
            struct.pack_into("<i", out, r.slot(code, 8), version)  # OperatorCode.version
    return bytes(out)


def test_a_file_newer_than_the_engine_goes_on_to_the_numpy_engine(tutorial_export, tmp_path, pixels):
    """tflite-runtime 2.14 (32-bit bookworm's only engine) has no FULLY_CONNECTED v12, which the
    dynamic-range file uses; auto then runs the file on the numpy engine and says why. Here LiteRT
    meets a version it does not know (99): a sound file newer than the engine, not a damaged one."""
    original = (tutorial_export.out_dir / "model_dynamic.tflite").read_bytes()
    newer = tmp_path / "model_dynamic.tflite"
    newer.write_bytes(_with_op_version(original, "FULLY_CONNECTED", 99))
    clf = Classifier.load(newer)
    assert clf.backend == "numpy" and "litert here is too old for this file" in clf.runner.delegate
    reference = Classifier.load(tutorial_export.out_dir / "model_dynamic.tflite", backend="litert")
    assert np.array_equal(clf.predict(pixels).argmax(1), reference.predict(pixels).argmax(1))
    with pytest.raises(FmnistError, match="FULLY_CONNECTED' version '99'"):
        Classifier.load(newer, backend="litert")  # an engine asked for by name is not replaced
