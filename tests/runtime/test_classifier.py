"""Classifier on the bundled tiny models: loading, shapes, dtypes, checksums, errors (no TF)."""

import numpy as np
import pytest

from fmnist_edge.runtime.formats import Backend
from fmnist_edge.runtime.classifier import Classifier, InputError, Prediction
from fmnist_edge.runtime.errors import FmnistError, MissingExtraError

from .conftest import BUNDLED

IMAGES = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("name", ["doctor-tiny.tflite", "doctor-tiny.onnx"])
def test_every_accepted_shape_and_dtype_gives_the_same_probabilities(name):
    clf = Classifier.load(BUNDLED / name)
    batch = clf.predict(IMAGES)
    assert batch.shape == (7, 10) and batch.dtype == np.float32
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=0.02)
    np.testing.assert_array_equal(clf.predict(IMAGES[..., None]), batch)
    ones = np.concatenate([clf.predict(image) for image in IMAGES])  # the batch-1 path
    np.testing.assert_allclose(ones, batch, atol=1e-6)
    assert clf.predict(IMAGES[0][None, :, :, None]).shape == (1, 10)
    as_float = clf.predict(IMAGES.astype(np.float32) / 255)
    assert (as_float.argmax(1) == batch.argmax(1)).all()
    assert clf.predict(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


def test_large_batches_run_in_chunks_with_the_same_result():
    clf = Classifier.load(BUNDLED / "doctor-tiny.tflite")
    images = np.random.default_rng(1).integers(0, 256, (600, 28, 28), dtype=np.uint8)
    whole = clf.predict(images)  # 256 + 256 + a padded tail of 88
    np.testing.assert_array_equal(whole[300:310], clf.predict(images[300:310]))
    np.testing.assert_array_equal(whole[-1:], clf.predict(images[-1]))


def test_classify_returns_top_k_labels_best_first():
    clf = Classifier.load(BUNDLED / "doctor-tiny.onnx")
    result = clf.classify(IMAGES[:2], top_k=3)
    assert len(result) == 2 and all(len(r) == 3 for r in result)
    assert all(isinstance(p, Prediction) for p in result[0])
    scores = [p.score for p in result[0]]
    assert scores == sorted(scores, reverse=True)
    assert result[0][0].label == clf.labels[result[0][0].index]


@pytest.mark.parametrize("bad, message", [
    (np.zeros((28, 27), np.uint8), "expected images shaped"),
    (np.zeros((2, 28, 28, 3), np.uint8), "expected images shaped"),
    (np.zeros((28, 28), np.int64), "got dtype int64"),
    (np.full((28, 28), np.nan, np.float32), "NaN or infinity"),
    (np.full((1, 28, 28), 200.0), "must be scaled to [0, 1]"),
])
def test_bad_images_raise_input_error(bad, message):
    clf = Classifier.load(BUNDLED / "doctor-tiny.tflite")
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        clf.predict(bad)


def test_folder_picks_int8_tflite_and_takes_labels_from_the_manifest(export_dir):
    clf = Classifier.load(export_dir)
    assert clf.path.name == "model_int8.tflite" and clf.backend == "litert"
    assert clf.labels == tuple(f"c{i}" for i in range(10))
    assert Classifier.load(export_dir, format="onnx", quantization="none").backend == "onnxruntime"
    assert Classifier.load(export_dir, backend="onnxruntime", quantization="none").path.suffix == ".onnx"
    with pytest.raises(FmnistError, match="no tflite/onnx model quantized 'float16'"):
        Classifier.load(export_dir, quantization="float16")


def test_checksum_mismatch_is_refused_unless_verify_is_off(export_dir):
    path = export_dir / "model_int8.tflite"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip the last byte: still loadable, no longer the exported file
    path.write_bytes(bytes(data))
    with pytest.raises(FmnistError, match="checksum mismatch"):
        Classifier.load(export_dir)
    with pytest.raises(FmnistError, match="checksum mismatch"):
        Classifier.load(path)
    assert Classifier.load(path, verify=False).predict(IMAGES[0]).shape == (1, 10)


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_broken_model_files(tmp_path, suffix):
    missing = tmp_path / f"missing{suffix}"
    with pytest.raises(FmnistError, match="no such model file"):
        Classifier.load(missing)
    empty = tmp_path / f"empty{suffix}"
    empty.write_bytes(b"")
    with pytest.raises(FmnistError, match="empty file"):
        Classifier.load(empty)
    noise = tmp_path / f"noise{suffix}"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(FmnistError, match="not a loadable"):
        Classifier.load(noise)
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes((BUNDLED / f"doctor-tiny{suffix}").read_bytes()[:2000])
    with pytest.raises(FmnistError, match="not a loadable"):
        Classifier.load(truncated)


def test_unknown_suffix_backend_and_format_mismatch(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(FmnistError, match="unknown model type"):
        Classifier.load(tmp_path / "model.pt")
    with pytest.raises(FmnistError, match="unknown backend 'tensorrt'"):
        Classifier.load(BUNDLED / "doctor-tiny.tflite", backend="tensorrt")
    with pytest.raises(FmnistError, match="backend onnxruntime runs onnx models, not tflite"):
        Classifier.load(BUNDLED / "doctor-tiny.tflite", backend=Backend.ONNXRUNTIME)
    with pytest.raises(FmnistError, match="no manifest.json here"):
        Classifier.load(tmp_path)


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'fmnist-edge\[litert\]'"):
        Classifier.load(BUNDLED / "doctor-tiny.tflite", backend="litert")
    # auto: with no TFLite engine installed, the numpy engine runs the file
    assert Classifier.load(BUNDLED / "doctor-tiny.tflite").backend == "numpy"
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'fmnist-edge\[onnx\]'"):
        Classifier.load(BUNDLED / "doctor-tiny.onnx")


def test_tflite_runtime_is_skipped_with_a_reason_under_numpy_2():
    from fmnist_edge.runtime.backends import availability

    reason = availability(Backend.TFLITE_RUNTIME)
    if int(np.__version__.split(".")[0]) >= 2:
        assert reason and ("NumPy" in reason)
    with pytest.raises(FmnistError, match="tflite-runtime"):
        Classifier.load(BUNDLED / "doctor-tiny.tflite", backend="tflite-runtime")


def test_xnnpack_refusal_falls_back_to_builtin_kernels():
    from ai_edge_litert.interpreter import Interpreter

    from fmnist_edge.runtime.backend_litert import TFLiteRunner

    class Picky(Interpreter):  # refuses the default (XNNPACK) resolver, like an unsupported model
        def __init__(self, *args, **kwargs):
            self._plain = "experimental_op_resolver_type" not in kwargs
            super().__init__(*args, **kwargs)

        def allocate_tensors(self):
            if self._plain:
                raise RuntimeError("XNNPACK delegate failed to prepare")
            return super().allocate_tensors()

    Picky.__module__ = Interpreter.__module__
    data = (BUNDLED / "doctor-tiny.tflite").read_bytes()
    runner = TFLiteRunner(data, Picky, None, "litert", "tiny")
    assert runner.delegate.startswith("none (builtin kernels")
    assert "DELEGATE" not in runner.op_names()
