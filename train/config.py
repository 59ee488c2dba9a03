"""Training choices (str Enums) and the frozen hyperparameter config of one run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from fmnist_edge.runtime.errors import FmnistError


class ModelKind(str, Enum):
    """Which network to build."""

    SEED_CNN = "seed-cnn"  # the tutorial CNN: Conv2D → MaxPool → Flatten → Dense → Dense(10)
    ANN = "ann"  # the tutorial's feed-forward alternative: Flatten → Dense… → Dense(10)


class Optimizer(str, Enum):
    """Gradient-descent variants the tutorial compares."""

    SGD = "sgd"
    ADAM = "adam"
    RMSPROP = "rmsprop"


class Activation(str, Enum):
    """Hidden-layer activations (the output layer is always softmax)."""

    RELU = "relu"
    ELU = "elu"
    SELU = "selu"
    TANH = "tanh"
    SIGMOID = "sigmoid"


class Initializer(str, Enum):
    """Weight initializers; he_* suit ReLU, glorot_* suit tanh/sigmoid, lecun_normal suits SELU."""

    HE_UNIFORM = "he_uniform"
    HE_NORMAL = "he_normal"
    GLOROT_UNIFORM = "glorot_uniform"
    GLOROT_NORMAL = "glorot_normal"
    LECUN_NORMAL = "lecun_normal"


# Keras' own defaults, recorded so config.json states the rate that was actually used.
DEFAULT_LEARNING_RATE = {Optimizer.SGD: 0.01, Optimizer.ADAM: 0.001, Optimizer.RMSPROP: 0.001}
# The tutorial's CNN head has one Dense(100); its ANN hidden sizes are not given, so we pick two
# hidden layers (256, 128): about 235 k parameters, less than half the CNN's 542 k.
DEFAULT_DENSE_UNITS = {ModelKind.SEED_CNN: (100,), ModelKind.ANN: (256, 128)}


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of one training run; defaults reproduce the tutorial CNN."""

    model: ModelKind = ModelKind.SEED_CNN
    filters: int = 32
    kernel_size: int = 3
    pool_size: int = 2
    activation: Activation = Activation.RELU
    kernel_initializer: Initializer = Initializer.HE_UNIFORM
    dense_units: tuple[int, ...] | None = None  # None: the model kind's default
    optimizer: Optimizer = Optimizer.ADAM
    learning_rate: float | None = None  # None: the optimizer's Keras default
    momentum: float = 0.0
    epochs: int = 15
    batch_size: int = 32
    seed: int = 0
    early_stopping_patience: int = 0  # 0 = off, as in the tutorial
    validation_size: int = 5000

    def validate(self) -> None:
        """Raise FmnistError for a combination Keras would reject only deep inside model building."""
        if self.model is ModelKind.SEED_CNN:
            conv_out = 28 - self.kernel_size + 1  # 'valid' padding
            if conv_out < 1:
                raise FmnistError(f"--kernel-size {self.kernel_size} does not fit a 28×28 image")
            if conv_out // self.pool_size < 1:
                raise FmnistError(f"--pool-size {self.pool_size} is larger than the "
                                  f"{conv_out}×{conv_out} conv output")
        if self.validation_size >= 60_000:
            raise FmnistError(f"validation size {self.validation_size} leaves no training data")

    def resolved(self) -> "TrainConfig":
        """The same config with every 'default' placeholder replaced by the value used."""
        return dataclasses.replace(
            self,
            dense_units=tuple(self.dense_units or DEFAULT_DENSE_UNITS[self.model]),
            learning_rate=self.learning_rate or DEFAULT_LEARNING_RATE[self.optimizer],
        )

    def to_json(self) -> dict:
        """A JSON-ready dict (Enums as their string values)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.value if isinstance(value, Enum) else (
                list(value) if isinstance(value, tuple) else value
            )
        return out

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        """Rebuild a config written by :meth:`to_json`."""
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        enums = {"model": ModelKind, "optimizer": Optimizer, "activation": Activation,
                 "kernel_initializer": Initializer}
        values = {k: enums[k](v) if k in enums else v for k, v in data.items() if k in kinds}
        if values.get("dense_units") is not None:
            values["dense_units"] = tuple(values["dense_units"])
        return cls(**values)
