import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fmnist_edge.train.config import Activation, ModelKind, Optimizer, TrainConfig  # noqa: E402
from fmnist_edge.train.models import build_model, count_macs  # noqa: E402


def _layers(model):
    return [(type(layer).__name__, layer.output.shape[1:]) for layer in model.layers]


def test_tutorial_cnn_is_exact():
    model = build_model(TrainConfig())
    assert _layers(model) == [
        ("InputLayer", (28, 28, 1)),
        ("Conv2D", (26, 26, 32)),
        ("MaxPooling2D", (13, 13, 32)),
        ("Flatten", (5408,)),
        ("Dense", (100,)),
        ("Dense", (10,)),
    ]
    assert model.count_params() == 542_230
    assert count_macs(model) == 736_488  # 194,688 conv + 540,800 + 1,000 dense
    conv, dense1, out = model.layers[1], model.layers[4], model.layers[5]
    assert conv.activation.__name__ == "relu" and dense1.activation.__name__ == "relu"
    assert type(conv.kernel_initializer).__name__ == "HeUniform"
    assert out.activation.__name__ == "softmax"
    assert type(model.optimizer).__name__ == "Adam"
    assert model.loss == "categorical_crossentropy"


def test_ann_layers_follow_dense_units():
    model = build_model(TrainConfig(model=ModelKind.ANN, dense_units=(64, 32, 16)))
    assert [t for t, _ in _layers(model)] == ["InputLayer", "Flatten", "Dense", "Dense", "Dense", "Dense"]
    assert model.count_params() == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10
    default = build_model(TrainConfig(model=ModelKind.ANN))
    assert [layer.units for layer in default.layers[2:]] == [256, 128, 10]


def test_hyperparameters_reach_the_layers():
    config = TrainConfig(filters=8, kernel_size=5, pool_size=3, activation=Activation.TANH,
                         dense_units=(20,), optimizer=Optimizer.SGD, learning_rate=0.05, momentum=0.9)
    model = build_model(config)
    conv = model.layers[1]
    assert conv.filters == 8 and conv.kernel_size == (5, 5)
    assert model.layers[2].pool_size == (3, 3)
    assert conv.activation.__name__ == "tanh"
    assert model.layers[4].units == 20
    assert type(model.optimizer).__name__ == "SGD"
    assert float(model.optimizer.momentum) == pytest.approx(0.9)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)


def test_same_seed_same_initial_weights():
    def weights(seed):
        keras.utils.set_random_seed(seed)
        return build_model(TrainConfig()).layers[1].get_weights()[0]

    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))
