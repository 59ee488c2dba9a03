"""make quant-demo's model on the real data: int8 hurts, auto recovers, plain engines agree (slow).

The training options are read from the Makefile's quant-demo target, so the test and the README
block are about the same model.
"""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from fmnist_edge.runtime.dataset import load_fashion_mnist  # noqa: E402

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _demo_train_options() -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    line = re.search(r"^quant-demo:.*\n\t(.*fmnist-train.*)$", text, re.M).group(1)
    options = shlex.split(line.split("fmnist-train", 1)[1])
    keep, skip = [], {"--name", "--progress"}
    for flag, value in zip(options[::2], options[1::2]):
        if flag not in skip:
            keep += [flag, value]
    return keep


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from fmnist_edge.export.config import ExportConfig, Quantization
    from fmnist_edge.export.pipeline import export_model
    from fmnist_edge.train import cli

    out = tmp_path_factory.mktemp("quant-demo")
    assert cli.main([*_demo_train_options(), "--out", str(out), "--name", "demo",
                     "--progress", "none"]) == 0
    config = ExportConfig(quantizations=(Quantization.INT8, Quantization.AUTO), max_drop=0.3)
    result = export_model(out / "demo", config, progress=False)
    return result, {e["file"]: e for e in result.manifest["artifacts"]}


def test_full_int8_loses_a_point_and_auto_recovers_with_float_layers(demo):
    _, entries = demo
    assert max(entries[f]["check"]["drop_points"]
               for f in ("model_int8.tflite", "model_int8.onnx")) >= 1.0
    for file in ("model_auto.tflite", "model_auto.onnx"):
        entry = entries[file]
        assert entry["float_layers"], file  # this model needs a fallback
        assert entry["validation"]["drop_points"] <= 0.3
        steps = entry["fallback"]["steps"]
        assert steps[0]["validation"]["drop_points"] > 0.3 and steps[0]["float_layers"] == []
        # the layer floated first is the worst-ranked layer of the full int8 model
        assert steps[0]["next"] == entries[file.replace("auto", "int8")]["layer_error"]["layers"][0]["layer"]


def test_plain_engines_get_the_accuracy_the_manifest_records_for_auto(demo):
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    result, entries = demo
    data = load_fashion_mnist()
    x = data.x_test.astype(np.float32)[..., None] / 255.0
    interpreter = Interpreter(model_path=str(result.out_dir / "model_auto.tflite"))
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], [len(x), 28, 28, 1])
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)  # auto files take float input
    interpreter.invoke()
    tflite = np.argmax(interpreter.get_tensor(out["index"]), axis=1)
    session = ort.InferenceSession(str(result.out_dir / "model_auto.onnx"),
                                   providers=["CPUExecutionProvider"])
    onnx_pred = np.argmax(session.run(None, {session.get_inputs()[0].name: x})[0], axis=1)
    assert entries["model_auto.tflite"]["check"]["accuracy"] == float(np.mean(tflite == data.y_test))
    assert entries["model_auto.onnx"]["check"]["accuracy"] == float(np.mean(onnx_pred == data.y_test))
