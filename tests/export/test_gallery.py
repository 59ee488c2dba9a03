"""Bring your own model (issue 32): user-style Keras models through fmnist-export and every engine.

The two fast models run here in make test; every model and probe runs under the gallery marker
(make gallery, CI). Each is trained on the real data, exported with --quantize all as a user
would, and every file run on the 10,000 test images by every engine installed.
"""

import json
import shutil

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("onnx")

from fmnist_edge.export import cli, gallery  # noqa: E402
from fmnist_edge.export.gallery_models import BY_NAME, MODELS, PROBES  # noqa: E402
from fmnist_edge.export.gallery_report import support_table  # noqa: E402
from fmnist_edge.export.pipeline import EXIT_SKIPPED  # noqa: E402

FAST = [m.name for m in MODELS if m.fast]


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    return out, {r["model"]: r for r in gallery.run(FAST, out)}


def _engines(record, file_name):
    return next(f for f in record["files"] if f["file"] == file_name)["engines"]


def test_issue_32s_model_exports_every_variant_and_runs_or_is_refused(fast):
    _, records = fast
    issue = records["issue-32"]
    assert gallery.failures(issue) == []
    assert issue["exit"] == 0 and issue["skipped"] == [] and issue["params"] == 1450
    assert len(issue["files"]) == 9 and all(f["check_passed"] for f in issue["files"])
    for f in issue["files"]:
        reference = "litert" if f["format"] == "tflite" else "onnxruntime"
        assert f["engines"][reference] == {"status": "ok", "differ": 0}
    # the numpy engine computes the float files (LEAKY_RELU, AVERAGE_POOL_2D, MEAN, …) …
    for name in ("model_float32.tflite", "model_float16.tflite", "model_dynamic.tflite"):
        assert _engines(issue, name)["numpy"]["status"] == "ok", name
    # … and refuses the int8 one with one line naming the op
    refusal = _engines(issue, "model_int8.tflite")["numpy"]
    assert refusal["status"] == "refused" and "int8 TANH" in refusal["reason"]
    assert "\n" not in refusal["reason"]


def test_a_model_without_convolutions_skips_mixed_writes_the_rest_and_exits_3(fast):
    out, records = fast
    record = records["no-conv"]
    assert gallery.failures(record) == []
    assert record["exit"] == EXIT_SKIPPED == 3
    assert [(s["file"], s["reason"]) for s in record["skipped"]] == [
        ("model_mixed.tflite", "the model has no convolution to keep in float")]
    assert record["stderr"] == ["fmnist-export: skipped model_mixed.tflite: the model has no "
                                "convolution to keep in float"]
    export = out / "runs" / "no-conv" / "export"
    assert not (export / "model_mixed.tflite").exists()
    assert len(record["files"]) == 8 and (export / "model_auto.tflite").is_file()
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["skipped"] == record["skipped"]
    assert "Skipped, not written: `model_mixed.tflite`: the model has no convolution" in \
        (export / "report.md").read_text()


def test_mixed_asked_for_alone_on_that_model_is_one_line_exit_2(fast, tmp_path, capsys):
    out, _ = fast
    run = tmp_path / "run"
    shutil.copytree(out / "runs" / "no-conv", run, ignore=shutil.ignore_patterns("export"))
    code = cli.main([str(run), "--quantize", "mixed", "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("fmnist-export: error: --quantize mixed keeps the first convolution")
    assert not (run / "export").exists()


def test_layers_keep_the_users_names_with_kerass_default_names(fast):
    """conv2d and conv2d_1: TF's traced scope of the first (conv2d_1) was the second's name."""
    out, _ = fast
    manifest = json.loads((out / "runs" / "issue-32" / "export" / "manifest.json").read_text())
    entries = {e["file"]: e for e in manifest["artifacts"]}
    assert entries["model_mixed.tflite"]["float_layers"] == ["conv2d"]
    for name in ("model_int8.tflite", "model_int8.onnx"):
        error = entries[name]["layer_error"]
        layers = [r["layer"] for r in error["layers"]]
        assert {"conv2d", "conv2d_1", "depthwise_conv2d", "dense"} <= set(error["order"]), error
        assert {"conv2d", "conv2d_1", "dense"} <= set(layers), (name, layers)
        assert not [n for n in layers + error["order"] if "_fe" in n]  # the copy's tags stay inside
    mixed_layers = {r["layer"] for r in entries["model_mixed.tflite"]["layer_error"]["layers"]}
    assert "conv2d" not in mixed_layers and "conv2d_1" in mixed_layers


def test_the_gallerys_rules_catch_a_silent_disagreement_and_a_failed_export():
    good = {"model": "m", "exit": 0, "stderr": [], "skipped": [], "files": [
        {"file": "model_int8.tflite", "format": "tflite", "quantization": "int8",
         "check_passed": True, "keras_accuracy": 0.8, "accuracy": 0.8,
         "engines": {"litert": {"status": "ok", "differ": 0},
                     "numpy": {"status": "refused", "reason": "/x/model_int8.tflite: int8 ADD: the "
                               "numpy engine does not compute this (install …)"}}}],
        "layers": ["residual Add"], "params": 10, "probe": True}
    assert gallery.failures(good) == []
    table = support_table([good])
    assert "| residual Add | – | ✓ | int8: refused (int8 ADD) |" in table
    model = dict(good, probe=False, model="m")
    model["files"] = [dict(good["files"][0], keras_accuracy_ci=[0.7922, 0.8076])]  # 8,000 of 10,000
    assert "| m | residual Add | 10 | 80.00 ±0.77 | 0 |" in support_table([model])
    bad = json.loads(json.dumps(good))
    bad["files"][0]["engines"]["numpy"] = {"status": "disagrees", "differ": 40}
    bad["exit"], bad["stderr"] = 1, ["fmnist-export: error: boom"]
    bad["files"][0]["check_passed"] = False
    found = gallery.failures(bad)
    assert len(found) == 3 and any("40 top-1 classes differ" in line for line in found)
    stem = dict(good, model="probe-stem")  # the probes' common stem must run everywhere
    assert gallery.failures(stem) == ["probe-stem: model_int8.tflite on numpy: refused, but "
                                      "every probe stands on this one"]
    assert any("exited 1: fmnist-export: error: boom" in line for line in found)


def test_every_layer_type_the_issue_names_has_a_model_and_a_probe():
    covered = {layer for m in MODELS for layer in m.layers}
    probed = {p.layers[0] for p in PROBES}
    for layer in ("DepthwiseConv2D", "SeparableConv2D", "residual Add", "Concatenate",
                  "AveragePooling2D", "GlobalAveragePooling2D", "tanh", "sigmoid", "LeakyReLU",
                  "hard-swish", "BatchNormalization (unfused)", "Dropout"):
        assert layer in covered and layer in probed, layer
    assert any(layer.startswith("Conv2D stride 2") for layer in covered | probed)
    assert BY_NAME["no-conv"].fast and BY_NAME["issue-32"].fast


def test_the_support_table_in_docs_is_the_gallerys():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text()
    block = text.split("<!-- gallery:begin -->")[1].split("<!-- gallery:end -->")[0]
    for probe in PROBES:
        assert f"| {probe.layers[0]} |" in block, probe.name
    for model in MODELS:
        assert f"| {model.name} |" in block, model.name


@pytest.mark.slow
@pytest.mark.gallery
def test_every_gallery_model_and_probe(tmp_path):
    records = gallery.run(None, tmp_path)
    assert [line for r in records for line in gallery.failures(r)] == []
    assert {r["model"] for r in records} == set(BY_NAME)


def test_the_numpy_engine_computes_leaky_relu_and_avg_pool_as_litert_does(fast):
    from fmnist_edge.benchmarks import engines
    from fmnist_edge.runtime.dataset import load_fashion_mnist

    out, _ = fast
    pixels = load_fashion_mnist().x_test[:2000]
    for name in ("model_float32.tflite", "model_dynamic.tflite"):
        row = {"run": "issue-32", **engines.compare_file(out / "runs" / "issue-32" / "export" / name, pixels)}
        assert engines.failures(row) == [] and row["max_diff_vs_builtin"] < 1e-5, row


def test_a_reexport_of_one_variant_keeps_the_skip_record_and_exits_0(fast, tmp_path):
    from fmnist_edge.export import pipeline
    from fmnist_edge.export.config import ExportConfig, Format, Quantization

    out, _ = fast
    run = tmp_path / "run"
    shutil.copytree(out / "runs" / "no-conv", run)
    config = ExportConfig(formats=(Format.TFLITE,), quantizations=(Quantization.INT8,), check=False)
    result = pipeline.export_model(run, config, progress=False)
    assert result.exit_code == 0 and result.skipped == () and result.written == ("model_int8.tflite",)
    assert [r["file"] for r in result.manifest["skipped"]] == ["model_mixed.tflite"]
