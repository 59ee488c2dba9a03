"""User-style Keras classifiers for the gallery: the layers people try beyond the tutorial CNN.

``MODELS``: small models (≤ 26 k parameters) combining the layers people try, as a user would;
``fast`` ones run in ``make test``, ``make gallery`` runs them all. ``PROBES``: one layer type
each between a stem every engine computes (a 3×3 ReLU conv, itself the first probe) and a dense
softmax head, so what an engine refuses in a probe is that layer's doing: the support table of
docs/export.md is made of them. Builders take the ``keras`` module (no TensorFlow import here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class GalleryModel:
    """One user-style model: its name, the layer types it covers and how to build it."""

    name: str
    layers: tuple[str, ...]
    build: Callable  # build(keras) -> keras.Model, input (28, 28, 1), 10 softmax outputs
    fast: bool = False
    probe: bool = False  # one layer type on the common stem and head (see the module)


def _head(keras, x):
    return keras.layers.Dense(10, activation="softmax")(x)


def _issue_32(keras):
    """Issue 32's model, 1,450 parameters: --quantize all failed on it with default layer names.

    The names are the defaults Keras gives in a fresh process (the user's), spelled out: in a
    process that built other models first they would be conv2d_6, conv2d_7, which do not collide.
    """
    L = keras.layers
    inputs = keras.Input((28, 28, 1))
    x = L.Conv2D(16, 5, activation="tanh", name="conv2d")(inputs)
    x = L.AveragePooling2D(pool_size=2, name="average_pooling2d")(x)
    x = L.DepthwiseConv2D(kernel_size=3, name="depthwise_conv2d")(x)
    x = L.LeakyReLU(negative_slope=0.1, name="leaky_re_lu")(x)
    x = L.Conv2D(32, 1, name="conv2d_1")(x)
    x = L.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    return keras.Model(inputs, L.Dense(10, activation="softmax", name="dense")(x))


def _separable(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.SeparableConv2D(32, 3, padding="same")(x)
    x = keras.layers.ReLU(max_value=6.0)(x)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.SeparableConv2D(32, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(keras, x))


def _residual(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = keras.layers.Conv2D(16, 3, padding="same")(x)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(16, 3, padding="same")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.MaxPooling2D(pool_size=4)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, _head(keras, x))


def _concatenate(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    a = keras.layers.Conv2D(8, 1, activation="sigmoid")(x)
    b = keras.layers.Conv2D(8, 3, padding="same", activation="sigmoid")(x)
    x = keras.layers.Concatenate()([a, b])
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, _head(keras, x))


def _hard_swish(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, activation="hard_swish")(inputs)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Conv2D(16, 3)(x)
    x = keras.layers.Activation("hard_swish")(x)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, _head(keras, x))


def _unfused_batchnorm(keras):
    """Batch normalization where no convolution or dense layer can absorb it: on the input and
    after pooling (a multiply and an add of their own in every file)."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.BatchNormalization()(inputs)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, _head(keras, x))


def _dense_only(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(32, activation="sigmoid")(x)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(inputs, _head(keras, x))


MODELS = (
    GalleryModel("issue-32", ("Conv2D 5×5", "tanh", "AveragePooling2D", "DepthwiseConv2D",
                              "LeakyReLU", "Conv2D 1×1", "GlobalAveragePooling2D"),
                 _issue_32, fast=True),
    GalleryModel("no-conv", ("Flatten", "Dense", "sigmoid", "Dropout"), _dense_only, fast=True),
    GalleryModel("separable", ("Conv2D stride 2 (stem)", "SeparableConv2D", "ReLU6",
                               "MaxPooling2D", "GlobalAveragePooling2D"), _separable),
    GalleryModel("residual", ("residual Add", "BatchNormalization (folded)", "ReLU layer",
                              "MaxPooling2D", "Flatten"), _residual),
    GalleryModel("concatenate", ("Concatenate", "sigmoid", "Conv2D 1×1"), _concatenate),
    GalleryModel("hard-swish", ("hard-swish", "Dropout"), _hard_swish),
    GalleryModel("unfused-bn", ("BatchNormalization (unfused)",), _unfused_batchnorm),
)


def _probe(make, stem: bool = True):
    """input → [3×3 ReLU conv] → the layer(s) ``make(keras, x)`` adds → flatten → dense softmax."""
    def build(keras):
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Conv2D(8, 3, activation="relu")(inputs) if stem else inputs
        x = make(keras, x)
        if len(x.shape) > 2:
            x = keras.layers.Flatten()(keras.layers.MaxPooling2D(pool_size=2)(x))
        return keras.Model(inputs, _head(keras, x))
    return build


def _layer(make):
    """The probe of one layer: ``make(keras)`` applied to the stem's output."""
    return _probe(lambda k, x: make(k)(x))


def _on_conv(make):
    """The probe of an activation: ``make(keras)`` after a 3×3 conv with none of its own."""
    return _probe(lambda k, x: make(k)(k.layers.Conv2D(8, 3)(x)))


def _branch(merge, width: int):
    """x merged with a conv of x (``width``×``width``, same size): Add, Concatenate."""
    return _probe(lambda k, x: merge(k)([x, k.layers.Conv2D(8, width, padding="same")(x)]))


def _dense(keras, x):
    return keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(x))


PROBES = tuple(GalleryModel(f"probe-{slug}", (layer,), build, probe=True)
               for slug, layer, build in (
    ("stem", "Conv2D 3×3 + ReLU (stem)", _probe(lambda k, x: x)),
    ("conv5x5", "Conv2D 5×5", _layer(lambda k: k.layers.Conv2D(8, 5))),
    ("conv1x1", "Conv2D 1×1", _layer(lambda k: k.layers.Conv2D(8, 1))),
    ("stride2", "Conv2D stride 2", _layer(lambda k: k.layers.Conv2D(8, 3, strides=2,
                                                                    padding="same"))),
    ("depthwise", "DepthwiseConv2D", _layer(lambda k: k.layers.DepthwiseConv2D(kernel_size=3))),
    ("separable", "SeparableConv2D", _layer(lambda k: k.layers.SeparableConv2D(8, 3))),
    ("maxpool", "MaxPooling2D", _layer(lambda k: k.layers.MaxPooling2D(pool_size=2))),
    ("avgpool", "AveragePooling2D", _layer(lambda k: k.layers.AveragePooling2D(pool_size=2))),
    # over 32 channels: over the stem's 8 (170 parameters, 31 % after 200 steps) int8 lost
    # 0.74 test points
    ("gap", "GlobalAveragePooling2D", _layer(lambda k: lambda x: k.layers.GlobalAveragePooling2D()(
        k.layers.Conv2D(32, 3, activation="relu")(k.layers.MaxPooling2D(pool_size=2)(x))))),
    ("dense", "Dense (hidden) + Flatten", _probe(_dense, stem=False)),
    ("add", "residual Add", _branch(lambda k: k.layers.Add(), 3)),
    ("concat", "Concatenate", _branch(lambda k: k.layers.Concatenate(), 1)),
    ("bn-folded", "BatchNormalization (folded)", _on_conv(
        lambda k: lambda x: k.layers.ReLU()(k.layers.BatchNormalization()(x)))),
    ("bn-unfused", "BatchNormalization (unfused)", _layer(lambda k: k.layers.BatchNormalization())),
    ("dropout", "Dropout", _layer(lambda k: k.layers.Dropout(0.3))),
    ("tanh", "tanh", _on_conv(lambda k: k.layers.Activation("tanh"))),
    ("sigmoid", "sigmoid", _on_conv(lambda k: k.layers.Activation("sigmoid"))),
    ("leaky-relu", "LeakyReLU", _on_conv(lambda k: k.layers.LeakyReLU(negative_slope=0.1))),
    ("hard-swish", "hard-swish", _on_conv(lambda k: k.layers.Activation("hard_swish"))),
    ("relu6", "ReLU6", _on_conv(lambda k: k.layers.ReLU(max_value=6.0))),
    ("elu", "ELU", _on_conv(lambda k: k.layers.Activation("elu"))),
))
BY_NAME = {m.name: m for m in MODELS + PROBES}
