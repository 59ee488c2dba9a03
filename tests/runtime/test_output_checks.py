"""A model that does not return probabilities is refused at load, or per call, never argmaxed."""

import numpy as np
import pytest

from fmnist_edge.runtime.classifier import Classifier, OutputError
from fmnist_edge.runtime.errors import FmnistError

from .conftest import BUNDLED


def _onnx_model(path, weights: np.ndarray, softmax: bool = True):
    """image (N,28,28,1) → flatten → MatMul(weights) [→ Softmax] → (N,10), float32."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Flatten", ["image"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["logits" if softmax else "probabilities"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_valid_float_model_loads(tmp_path):
    weights = np.random.default_rng(0).normal(0, 0.01, (784, 10))
    clf = Classifier.load(_onnx_model(tmp_path / "ok.onnx", weights))
    assert abs(float(clf.predict(np.zeros((28, 28), np.uint8)).sum()) - 1) < 1e-5


@pytest.mark.parametrize("weights, softmax, why", [
    (np.full((784, 10), np.nan), True, "NaN weights"),
    (np.full((784, 10), 0.01), False, "no softmax: scores that do not sum to 1"),
])
def test_a_model_without_probabilities_is_refused_at_load(tmp_path, weights, softmax, why):
    path = _onnx_model(tmp_path / "bad.onnx", weights, softmax)
    with pytest.raises(FmnistError, match="not probabilities"):
        Classifier.load(path)


def test_every_float_call_is_checked():
    clf = Classifier.load(BUNDLED / "doctor-tiny.onnx")
    for row in ([np.nan] + [0.1] * 9, [0.5] * 10, [-0.5, 1.5] + [0.0] * 8):
        with pytest.raises(OutputError, match="not probabilities"):
            clf._post(np.array([row], np.float32))
        with pytest.raises(OutputError, match="for image 1"):
            clf._checked_batch(np.array([[0.1] * 10, row], np.float32))
    good = np.array([[0.1] * 10], np.float32)
    assert clf._post(good) is good


def test_an_int8_output_table_outside_0_1_is_refused():
    from fmnist_edge.runtime.quantize import QuantParams

    clf = Classifier.load(BUNDLED / "doctor-tiny.tflite")
    runner = clf.runner
    runner.output_quant = QuantParams(0.1, 0, "int8")  # codes → -12.8 … 12.7: logits, not probabilities
    with pytest.raises(FmnistError, match=r"does not map to probabilities in \[0, 1\]"):
        Classifier(runner, clf.labels, clf.scale, clf.path, None)
