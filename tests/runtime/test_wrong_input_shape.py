"""A valid model that is not a Fashion-MNIST model (32×32×3 input) is refused with one line."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fmnist_edge.runtime import predict_cli  # noqa: E402
from fmnist_edge.runtime.classifier import Classifier  # noqa: E402
from fmnist_edge.runtime.errors import FmnistError  # noqa: E402


@pytest.fixture(scope="module")
def cifar_shaped_models(tmp_path_factory) -> Path:
    import tensorflow as tf
    import tf2onnx

    folder = tmp_path_factory.mktemp("wrong")
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    with tempfile.TemporaryDirectory() as scratch:
        model.export(scratch, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch)
        (folder / "cifar.tflite").write_bytes(converter.convert())
    spec = [tf.TensorSpec([None, 32, 32, 3], tf.float32, name="x")]
    proto, _ = tf2onnx.convert.from_function(tf.function(lambda x: model(x), input_signature=spec),
                                             input_signature=spec, opset=17)
    (folder / "cifar.onnx").write_bytes(proto.SerializeToString())
    return folder


@pytest.mark.parametrize("name", ["cifar.tflite", "cifar.onnx"])
def test_wrong_input_shape_is_refused(cifar_shaped_models, name, capsys, tmp_path):
    with pytest.raises(FmnistError, match=r"model input is \[-1, 32, 32, 3\], expected \[N, 28, 28, 1\]"):
        Classifier.load(cifar_shaped_models / name)
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.uint8))
    assert predict_cli.main([str(cifar_shaped_models / name), str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected [N, 28, 28, 1]" in err
