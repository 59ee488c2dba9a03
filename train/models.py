"""Keras model builders: the tutorial CNN and the feed-forward ANN, compiled per the config.

Every model starts with ``keras.Input((28, 28, 1))`` (x/255, NHWC) so exporters get one fixed
signature whatever the architecture.
"""

from __future__ import annotations

import keras

from fmnist_edge.runtime.labels import NUM_CLASSES
from fmnist_edge.runtime.preprocessing import IMAGE_SIZE

from .config import ModelKind, Optimizer, TrainConfig

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


def build_seed_cnn(config: TrainConfig) -> keras.Model:
    """Conv2D(filters, k×k) → MaxPooling2D(p) → Flatten → Dense(units)… → Dense(10, softmax)."""
    c = config.resolved()
    layers = [
        keras.layers.Conv2D(c.filters, (c.kernel_size, c.kernel_size), activation=c.activation.value,
                            kernel_initializer=c.kernel_initializer.value, name="conv"),
        keras.layers.MaxPooling2D((c.pool_size, c.pool_size), name="pool"),
        keras.layers.Flatten(name="flatten"),
    ]
    return _with_head(keras.Input(INPUT_SHAPE, name="image"), layers, c, "seed_cnn")


def build_ann(config: TrainConfig) -> keras.Model:
    """Flatten → Dense(units)… → Dense(10, softmax): the tutorial's feed-forward alternative."""
    c = config.resolved()
    layers = [keras.layers.Flatten(name="flatten")]
    return _with_head(keras.Input(INPUT_SHAPE, name="image"), layers, c, "ann")


def _with_head(inputs, layers: list, c: TrainConfig, name: str) -> keras.Model:
    for i, units in enumerate(c.dense_units or ()):
        layers.append(keras.layers.Dense(units, activation=c.activation.value,
                                         kernel_initializer=c.kernel_initializer.value,
                                         name=f"dense{i + 1}"))
    layers.append(keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


BUILDERS = {ModelKind.SEED_CNN: build_seed_cnn, ModelKind.ANN: build_ann}


def build_model(config: TrainConfig) -> keras.Model:
    """Build and compile the model the config names (categorical cross-entropy, accuracy)."""
    model = BUILDERS[config.model](config)
    model.compile(optimizer=make_optimizer(config), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer with the config's learning rate (and momentum, for SGD)."""
    c = config.resolved()
    if c.optimizer is Optimizer.SGD:
        return keras.optimizers.SGD(learning_rate=c.learning_rate, momentum=c.momentum)
    if c.optimizer is Optimizer.RMSPROP:
        return keras.optimizers.RMSprop(learning_rate=c.learning_rate)
    return keras.optimizers.Adam(learning_rate=c.learning_rate)


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates per image of the Conv2D and Dense layers (pooling compares excluded)."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            macs += oh * ow * cout * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            macs += cin * cout
    return int(macs)
