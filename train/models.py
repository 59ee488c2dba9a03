"""Keras model builders: the tutorial CNN and the feed-forward ANN, compiled per the config.

Every model starts with ``keras.Input((28, 28, 1))`` (x/255, NHWC) so exporters get one fixed
signature whatever the architecture.
"""

from __future__ import annotations

import keras

from fmnist_edge.runtime.labels import NUM_CLASSES
from fmnist_edge.runtime.preprocessing import IMAGE_SIZE

from .config import ModelKind, Optimizer, Schedule, TrainConfig

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


def build_edge_cnn(config: TrainConfig) -> keras.Model:
    """Three conv blocks (``block_filters``; each conv → batch norm → activation), then a head.

    Designed for int8 and a compute budget: the first block has stride 2, so every later layer
    works on 14×14 or 7×7 maps (the tutorial's conv works at 26×26); pooling after blocks 2 and 3
    leaves a 3×3×4f map for the dense head (128 units). Batch norm is folded into the
    convolutions when the model is exported, so it costs nothing at inference. With 32/32/64:
    104 k parameters and 2.84 M MACs, yet faster in int8 than the tutorial CNN's 736 k MACs,
    whose first conv runs on a one-channel 26×26 grid that int8 kernels handle poorly. With
    ``global_pool`` the last block is averaged per channel instead of pooled and flattened.
    """
    c = config.resolved()
    x = inputs = keras.Input(INPUT_SHAPE, name="image")
    for i, (width, stride) in enumerate(zip(c.block_filters, (2, 1, 1))):
        x = keras.layers.Conv2D(width, c.kernel_size, strides=stride, padding="same", use_bias=False,
                                kernel_initializer=c.kernel_initializer.value, name=f"conv{i + 1}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = keras.layers.Activation(c.activation.value, name=f"act{i + 1}")(x)
        if i == 1 or (i == 2 and not c.global_pool):
            x = keras.layers.MaxPooling2D(c.pool_size, name=f"pool{i + 1}")(x)
    layers = [keras.layers.GlobalAveragePooling2D(name="global_pool") if c.global_pool
              else keras.layers.Flatten(name="flatten")]
    return _with_head(inputs, layers, c, "edge_cnn", start=x)


def build_ann(config: TrainConfig) -> keras.Model:
    """Flatten → Dense(units)… → Dense(10, softmax): the tutorial's feed-forward alternative."""
    c = config.resolved()
    layers = [keras.layers.Flatten(name="flatten")]
    return _with_head(keras.Input(INPUT_SHAPE, name="image"), layers, c, "ann")


def _with_head(inputs, layers: list, c: TrainConfig, name: str, start=None) -> keras.Model:
    for i, units in enumerate(c.dense_units or ()):
        layers += _dropout(c, f"drop{i + 1}")
        layers.append(keras.layers.Dense(units, activation=c.activation.value,
                                         kernel_initializer=c.kernel_initializer.value,
                                         name=f"dense{i + 1}"))
    layers += _dropout(c, "drop_out")
    layers.append(keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities"))
    x = inputs if start is None else start
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def _dropout(c: TrainConfig, name: str) -> list:
    """A Dropout layer before a dense layer when the config asks for one (identity at inference)."""
    return [keras.layers.Dropout(c.dropout, seed=c.seed, name=name)] if c.dropout else []


BUILDERS = {ModelKind.SEED_CNN: build_seed_cnn, ModelKind.ANN: build_ann,
            ModelKind.EDGE_CNN: build_edge_cnn}


def build_model(config: TrainConfig, steps_per_epoch: int = 1) -> keras.Model:
    """Build and compile the model the config names (categorical cross-entropy, accuracy)."""
    model = BUILDERS[config.model](config)
    smoothing = config.label_smoothing
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing) if smoothing else \
        "categorical_crossentropy"  # the tutorial's loss, as it wrote it
    model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=loss,
                  metrics=["accuracy"])
    return model


def learning_rate(config: TrainConfig, steps_per_epoch: int = 1):
    """The rate, or (cosine) a schedule: one warm-up epoch from 0 to the rate, then down to 0."""
    c = config.resolved()
    if c.schedule is Schedule.CONSTANT:
        return c.learning_rate
    total = max(2, c.epochs * steps_per_epoch)
    warmup = min(steps_per_epoch, total // 2)
    return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, warmup_target=c.learning_rate,
                                                  warmup_steps=warmup)


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """The optimizer with the config's learning rate or schedule (and momentum, for SGD)."""
    c = config.resolved()
    # Keras swaps the averaged weights in when fit ends (finalize_variable_values)
    common = {"learning_rate": learning_rate(c, steps_per_epoch), "use_ema": c.ema > 0,
              "ema_momentum": c.ema or 0.99}
    if c.optimizer is Optimizer.SGD:
        return keras.optimizers.SGD(momentum=c.momentum, **common)
    if c.optimizer is Optimizer.RMSPROP:
        return keras.optimizers.RMSprop(**common)
    return keras.optimizers.Adam(**common)


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
