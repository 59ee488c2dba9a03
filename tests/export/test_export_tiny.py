"""Export a tiny model to every format and check files, dtypes, ops, manifest and checksums."""

import hashlib
import json
import os
import shutil

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from fmnist_edge.export import pipeline  # noqa: E402
from fmnist_edge.export.config import ExportConfig, Format, Quantization  # noqa: E402
from fmnist_edge.runtime.backend_litert import open_model  # noqa: E402
from fmnist_edge.runtime.labels import CLASS_NAMES  # noqa: E402

ALL_FILES = ["model_float32.tflite", "model_float16.tflite", "model_dynamic.tflite",
             "model_int8.tflite", "model_mixed.tflite", "model_float32.onnx", "model_int8.onnx"]
LOOSE = ExportConfig(max_drop=100.0, calibration_samples=100)  # an untrained model: check plumbing


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("exp") / "run"
    shutil.copytree(tiny_run, run)
    return pipeline.export_model(run, LOOSE, progress=False)


def _runner(path):
    return open_model(path.read_bytes(), str(path))


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_artifact_is_written_with_a_matching_manifest(exported):
    out = exported.out_dir
    assert sorted(os.listdir(out)) == sorted(ALL_FILES + ["manifest.json", "report.md"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["file"] for e in manifest["artifacts"]] == ALL_FILES
    assert manifest["source"]["sha256"] == _sha(out.parent / "model.keras")
    assert manifest["source"]["file"] == "../model.keras"
    assert manifest["labels"] == list(CLASS_NAMES)
    assert manifest["calibration"]["samples"] == 100
    assert {"tensorflow-cpu", "onnxruntime", "tf2onnx", "ai-edge-litert"} <= set(manifest["tools"])
    for entry in manifest["artifacts"]:
        path = out / entry["file"]
        assert entry["sha256"] == _sha(path) and entry["size_bytes"] == path.stat().st_size
        assert entry["labels"] == list(CLASS_NAMES)
        assert entry["preprocessing"]["layout"] == "NHWC"
        assert entry["preprocessing"]["scale"] == pytest.approx(1 / 255)
        assert entry["input"]["shape"] == [-1, 28, 28, 1]
        check = entry["check"]
        assert check["test_images"] == 10_000 and 0 <= check["agreement"] <= 1
        assert check["passed"] is True


def test_tflite_int8_has_int8_io_and_only_builtin_ops(exported):
    model = _runner(exported.out_dir / "model_int8.tflite")
    assert model.input_dtype == np.int8
    assert model.input_quant.dtype == "int8" and model.output_quant is not None
    entry = next(e for e in exported.manifest["artifacts"] if e["file"] == "model_int8.tflite")
    assert entry["input"]["quantization"]["zero_point"] == model.input_quant.zero_point
    assert entry["input"]["quantization"]["scale"] == pytest.approx(1 / 255, rel=1e-6)
    ops = model.op_names()
    assert "CONV_2D" in ops and "FULLY_CONNECTED" in ops
    assert not [op for op in ops if op.lower().startswith("flex")]
    for name in ("model_float32.tflite", "model_float16.tflite", "model_dynamic.tflite",
                 "model_mixed.tflite"):
        assert _runner(exported.out_dir / name).input_dtype == np.float32


def test_mixed_keeps_the_first_conv_float_and_the_dense_part_int8(exported):
    runner = _runner(exported.out_dir / "model_mixed.tflite")
    ops = runner.op_names()
    assert ops.index("CONV_2D") < ops.index("QUANTIZE") < ops.index("FULLY_CONNECTED")
    details = runner._one.get_tensor_details()
    kernels = {t["dtype"].__name__ for t in details if len(t["shape"]) == 4 and t["shape"][0] == 2}
    dense = {t["dtype"].__name__ for t in details if len(t["shape"]) == 2 and t["shape"][0] == 10}
    assert kernels == {"float32"} and "int8" in dense


def test_onnx_int8_is_qdq_with_int8_weights_and_metadata(exported):
    model = onnx.load(exported.out_dir / "model_int8.onnx")
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert any(len(t.dims) == 4 for t in int8_weights)  # the conv kernel, per-channel
    assert any(len(t.dims) == 2 for t in int8_weights)  # the dense kernel
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["labels"]) == list(CLASS_NAMES)
    assert json.loads(metadata["preprocessing"])["layout"] == "NHWC"
    assert metadata["source_sha256"] == exported.manifest["source"]["sha256"]
    assert model.graph.output[0].name == "probabilities"
    float_entry = next(e for e in exported.manifest["artifacts"] if e["file"] == "model_float32.onnx")
    assert float_entry["max_abs_diff_vs_keras"] < 1e-4 and float_entry["opset"] == 17


def test_reexport_of_one_artifact_keeps_the_others(exported, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(exported.out_dir.parent, run)
    before = {p.name: _sha(p) for p in (run / "export").iterdir() if p.suffix != ".json"}
    config = ExportConfig(formats=(Format.TFLITE,), quantizations=(Quantization.INT8,),
                          max_drop=100.0, calibration_samples=100)
    result = pipeline.export_model(run, config, progress=False)
    assert result.written == ("model_int8.tflite",)
    assert [e["file"] for e in result.manifest["artifacts"]] == ALL_FILES
    after = {p.name: _sha(p) for p in (run / "export").iterdir() if p.suffix != ".json"}
    assert after == before  # same model, same calibration → byte-identical int8 file
    assert sorted(os.listdir(run)) == ["export", "model.keras"]


def test_interrupted_export_leaves_the_previous_one_intact(exported, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(exported.out_dir.parent, run)
    manifest_before = (run / "export" / "manifest.json").read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    from fmnist_edge.export import onnx_export

    monkeypatch.setattr(onnx_export, "export_onnx", crash)
    with pytest.raises(KeyboardInterrupt):
        pipeline.export_model(run, LOOSE, progress=False)
    assert (run / "export" / "manifest.json").read_bytes() == manifest_before
    assert sorted(os.listdir(run / "export")) == sorted(ALL_FILES + ["manifest.json", "report.md"])
    assert sorted(os.listdir(run)) == ["export", "model.keras"]  # no staging leftovers


def test_a_failed_check_is_published_flagged_and_raised(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = ExportConfig(formats=(Format.TFLITE,), quantizations=(Quantization.NONE,),
                          max_drop=-1.0, calibration_samples=100)
    result = pipeline.export_model(run, config, progress=False)
    assert [e["file"] for e in result.failed] == ["model_float32.tflite"]
    from fmnist_edge.export.errors import CheckFailed

    with pytest.raises(CheckFailed, match="model_float32.tflite dropped 0.00 points"):
        result.raise_on_failed_checks()


def test_self_check_matches_an_independent_litert_evaluation(exported):
    from ai_edge_litert.interpreter import Interpreter

    from fmnist_edge.runtime.dataset import load_fashion_mnist

    data = load_fashion_mnist()
    interpreter = Interpreter(model_path=str(exported.out_dir / "model_int8.tflite"))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], [10_000, 28, 28, 1])
    interpreter.allocate_tensors()
    scale, zero_point = inp["quantization"]
    x = data.x_test.astype(np.float32)[..., None] / 255.0
    interpreter.set_tensor(inp["index"], np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8))
    interpreter.invoke()
    accuracy = float(np.mean(np.argmax(interpreter.get_tensor(out["index"]), 1) == data.y_test))
    entry = next(e for e in exported.manifest["artifacts"] if e["file"] == "model_int8.tflite")
    assert entry["check"]["accuracy"] == accuracy


def test_edge_cnn_batch_norm_is_folded_into_the_convolutions(tmp_path):
    from fmnist_edge.train.config import ModelKind, TrainConfig
    from fmnist_edge.train.models import build_model

    run = tmp_path / "edge"
    run.mkdir()
    build_model(TrainConfig(model=ModelKind.EDGE_CNN, filters=4)).save(run / "model.keras")
    config = ExportConfig(quantizations=(Quantization.NONE, Quantization.INT8), max_drop=100.0,
                          calibration_samples=50)
    out = pipeline.export_model(run, config, progress=False).out_dir
    for name in ("model_float32.tflite", "model_int8.tflite"):
        ops = _runner(out / name).op_names()
        assert ops.count("CONV_2D") == 3, ops
        assert not {"MUL", "ADD", "SUB", "BATCH_NORM"} & set(ops), ops
    for name in ("model_float32.onnx", "model_int8.onnx"):
        kinds = {node.op_type for node in onnx.load(out / name).graph.node}
        assert "BatchNormalization" not in kinds and not {"Mul", "Add"} & kinds, kinds


def test_all_on_a_model_without_a_convolution_leaves_out_mixed_only(tmp_path):
    """--quantize all on the ANN: every other file is made; mixed alone is one clear error."""
    import keras

    from fmnist_edge.runtime.errors import FmnistError

    run = tmp_path / "ann"
    run.mkdir()
    keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                      keras.layers.Dense(10, activation="softmax")]).save(run / "model.keras")
    config = ExportConfig(max_drop=100.0, calibration_samples=50)
    result = pipeline.export_model(run, config, progress=False)
    assert sorted(result.written) == sorted(f for f in ALL_FILES if f != "model_mixed.tflite")
    with pytest.raises(FmnistError, match="first convolution in float, but the model has none"):
        pipeline.export_model(run, ExportConfig(quantizations=(Quantization.MIXED,), max_drop=100.0,
                                                calibration_samples=50), progress=False)
    assert not (run / "export" / "model_mixed.tflite").exists()


@pytest.mark.parametrize("weights, dtype, largest", [("int7", np.int8, 64), ("int8", np.int8, 127),
                                                     ("uint8", np.uint8, 255)])
def test_onnx_weights_have_the_type_and_range_asked_for(tiny_run, tmp_path, weights, dtype, largest):
    """int7 never passes 64 in magnitude (ORT's saturating int16 pair sums stay exact); int8 and
    uint8 use their full range; the manifest and the report name the choice."""
    from onnx import numpy_helper

    from fmnist_edge.export.config import OnnxWeights

    config = ExportConfig(formats=(Format.ONNX,), quantizations=(Quantization.INT8,), max_drop=100.0,
                          calibration_samples=50, onnx_weights=OnnxWeights(weights))
    out = pipeline.export_model(tiny_run, config, out_dir=tmp_path / "out", progress=False).out_dir
    model = onnx.load(out / "model_int8.onnx")
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    quantized = [initializers[n.input[0]] for n in model.graph.node
                 if n.op_type == "DequantizeLinear" and n.input[0] in initializers
                 and initializers[n.input[0]].ndim > 1]  # conv and dense kernels, not biases
    assert quantized and all(w.dtype == dtype for w in quantized)
    if dtype == np.int8:
        assert max(int(np.abs(w.astype(np.int16)).max()) for w in quantized) == largest
    else:
        assert max(int(w.max()) for w in quantized) == largest
    entry = json.loads((out / "manifest.json").read_text())["artifacts"][0]
    assert entry["weights"] == weights
    assert f"{weights} weights" in (out / "report.md").read_text()


def test_a_dynamic_range_file_has_its_error_per_layer(exported):
    """Weight-only int8: each op's output against the float32 file's, on the same images."""
    from fmnist_edge.export.source import load_source
    from fmnist_edge.export.weight_error import dynamic_error

    out = exported.out_dir
    names = load_source(out.parent).layer_names  # the traced copy's layer names → the user's
    sample = np.random.default_rng(0).random((150, 28, 28, 1), np.float32)
    floats, dynamic = (out / "model_float32.tflite").read_bytes(), (out / "model_dynamic.tflite").read_bytes()
    error = dynamic_error(floats, dynamic, sample, names)
    # Keras numbers its layer names per process (conv2d_3 after other tests built models): by kind
    rows = {r["layer"].rstrip("_0123456789"): r for r in error["layers"]}
    assert rows["conv2d"]["added_db"] == 200.0  # 18 weights: the converter keeps under 1,024 float
    assert 20 < rows["dense"]["added_db"] < 100  # its 3,380 weights are int8
    assert error["images"] == 150 and [r["rank_db"] for r in error["layers"]] == sorted(
        r["rank_db"] for r in error["layers"])
    assert all(r["added_db"] == 200.0 for r in dynamic_error(floats, floats, sample, names)["layers"])
