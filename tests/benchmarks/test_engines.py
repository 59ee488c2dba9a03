"""The numpy engine on the edge CNN's and the ANN's files, and the engines check's verdicts."""

import pytest

from fmnist_edge.benchmarks import engines


def test_failures_name_each_broken_promise():
    fine = {"run": "r", "file": "model_int8.tflite", "images": 1000, "int8_output": True,
            "codes_vs_builtin": 0, "top1_vs_builtin": 1, "top1_vs_default": 5}
    assert engines.failures(fine) == []  # XNNPACK's own differences are reported, not failed
    assert engines.failures({**fine, "codes_vs_builtin": 3, "top1_vs_builtin": 2}) == [
        "r/model_int8.tflite: 3 int8 codes differ from LiteRT's builtin kernels",
        "r/model_int8.tflite: 2 top-1 classes differ from LiteRT's builtin kernels"]
    floats = {**fine, "file": "model_float32.tflite", "int8_output": False,
              "max_diff_vs_builtin": 2e-5, "top1_vs_default": 0}
    assert engines.failures(floats) == ["r/model_float32.tflite: probabilities differ by 2.0e-05"]


@pytest.mark.slow
@pytest.mark.parametrize("kind, options, files", [
    ("edge-cnn", ["--block-filters", "8,8,16", "--dense-units", "32"], 6),
    ("ann", ["--dense-units", "64,32"], 5)])  # no convolution: no mixed file
def test_the_edge_cnn_and_the_ann_files_keep_the_numpy_engines_promises(kind, options, files,
                                                                         tmp_path):
    """Each architecture at a small width, one epoch on the real training images: the ops,
    tensor types and padding (the edge CNN's stride-2 SAME convolutions) that fmnist-export
    writes for it, in a minute instead of a 15-minute training."""
    from fmnist_edge.export.config import ExportConfig, Format
    from fmnist_edge.export.pipeline import export_model
    from fmnist_edge.runtime.dataset import load_fashion_mnist
    from fmnist_edge.train import cli

    assert cli.main(["--model", kind, *options, "--epochs", "1", "--out", str(tmp_path),
                     "--name", kind, "--progress", "none"]) == 0
    config = ExportConfig(formats=(Format.TFLITE,), max_drop=100.0, calibration_samples=100)
    out = export_model(tmp_path / kind, config, progress=False).out_dir
    pixels = load_fashion_mnist().x_test[:2000]
    rows = [{"run": kind, **engines.compare_file(path, pixels)} for path in sorted(out.glob("*.tflite"))]
    assert len(rows) == files and [f for row in rows for f in engines.failures(row)] == []
