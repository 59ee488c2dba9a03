"""fmnist-bench on the real exported tutorial CNN (CI runs this): accuracies are the real ones."""

import json

import numpy as np
import pytest

from fmnist_edge.benchmarks import cli
from fmnist_edge.runtime.dataset import load_fashion_mnist

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tutorial_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert cli.main([str(tutorial_export.out_dir), "--quick", "--threads", "1", "--out", str(out)]) == 0
    return json.loads((out / "benchmark.json").read_text())


def _independent_accuracy(path, fmt, x, y):
    x = x.astype(np.float32)[..., None] / 255.0
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return float(np.mean(np.argmax(session.run(None, {session.get_inputs()[0].name: x})[0], 1) == y))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], [len(x), 28, 28, 1])
    interpreter.allocate_tensors()
    scale, zero_point = inp["quantization"]
    if scale:
        x = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(inp["dtype"])
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return float(np.mean(np.argmax(interpreter.get_tensor(out["index"]), 1) == y))


def test_benchmark_accuracies_equal_an_independent_evaluation(report, tutorial_export):
    data = load_fashion_mnist()
    records = {r["model"]: r for r in report["records"] if r["format"] != "keras"}
    assert set(records) == {e["file"] for e in tutorial_export.manifest["artifacts"]}
    for name in ("model_int8.tflite", "model_int8.onnx", "model_float32.tflite"):
        expected = _independent_accuracy(tutorial_export.out_dir / name, records[name]["format"],
                                         data.x_test, data.y_test)
        assert records[name]["accuracy"] == expected, name


def test_keras_baseline_and_same_run_ratios_are_recorded(report):
    keras = {r["quantization"]: r for r in report["records"] if r["format"] == "keras"}
    assert set(keras) == {"predict", "call"}
    assert report["reference"] == "keras float32 model"
    int8 = next(r for r in report["records"] if r["model"] == "model_int8.tflite")
    assert int8["speedup_vs_float"] > 1 and int8["speedup_vs_keras_call"] > 1
    assert int8["size_vs_float"] < 0.27


def test_a_failed_ratio_is_re_timed_on_the_real_files(report, tutorial_export):
    from fmnist_edge.benchmarks import confirm, gate
    from fmnist_edge.benchmarks.run import BenchConfig

    baseline = gate.load_baseline(gate.Path(cli.__file__).with_name("baseline.json"))
    specs = {s["name"]: s for s in baseline["ratios"]}
    mixed = next(s for n, s in specs.items() if n.startswith("LiteRT mixed"))
    keras = next(s for n, s in specs.items() if "Keras call" in n)
    throughput = next(s for s in specs.values() if s["metric"] == "throughput")
    config = BenchConfig((tutorial_export.out_dir,), threads=(1,), plan_kind="tiny")
    again = confirm.remeasure_ratios(config, report, [mixed, keras, throughput])
    assert again[1:] == [None, None]  # the Keras call is not loaded twice; throughput not re-timed
    assert again[0] > 1  # int8 after a float first conv beats float32 on every CPU measured
