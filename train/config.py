"""Training choices (str Enums) and the frozen hyperparameter config of one run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError


class ModelKind(str, Enum):
    """Which network to build."""

    SEED_CNN = "seed-cnn"  # the tutorial CNN: Conv2D → MaxPool → Flatten → Dense → Dense(10)
    ANN = "ann"  # the tutorial's feed-forward alternative: Flatten → Dense… → Dense(10)
    EDGE_CNN = "edge-cnn"  # small batch-normalized conv blocks, resolution halved at once; for int8


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
    RANDOM_NORMAL = "random_normal"  # Keras: N(0, 0.05²) whatever the layer size (scale-unaware)


class Schedule(str, Enum):
    """How the learning rate moves during training."""

    CONSTANT = "constant"  # the tutorial: one rate throughout
    COSINE = "cosine"  # one warm-up epoch up to the rate, then a cosine decay to 0 at the end


# Keras' own defaults, recorded so config.json states the rate that was actually used.
DEFAULT_LEARNING_RATE = {Optimizer.SGD: 0.01, Optimizer.ADAM: 0.001, Optimizer.RMSPROP: 0.001}
# The edge CNN's recipe (batch norm, a cosine schedule, larger batches) takes a larger peak rate.
EDGE_LEARNING_RATE = {Optimizer.SGD: 0.05, Optimizer.ADAM: 0.003, Optimizer.RMSPROP: 0.003}
# The tutorial's CNN head has one Dense(100); its ANN hidden sizes are not given, so we pick two
# hidden layers (256, 128): about 235 k parameters, less than half the CNN's 542 k.
DEFAULT_DENSE_UNITS = {ModelKind.SEED_CNN: (100,), ModelKind.ANN: (256, 128), ModelKind.EDGE_CNN: (128,)}


@dataclass(frozen=True)
class Recipe:
    """What a model kind's config leaves as None becomes (``TrainConfig.resolved``)."""

    filters: int
    epochs: int
    batch_size: int
    augment: bool  # ±1 px shifts
    erasing: bool  # random erasing
    flip: bool  # left-right flips
    schedule: Schedule


# The tutorial's recipe for its CNN and ANN; the edge CNN's blocks are EDGE_BLOCK_FILTERS wide,
# and it trains long on shifted, partly erased and left-right flipped images, in batches of 128
# (4× fewer steps per epoch than 32). At 60 epochs without flips three seeds gave 93.14 % mean
# validation and test accuracy (96.9 % train); flips alone (93.30 %) or 100 epochs alone
# (93.28 %) did not move validation, one seed each, but flips with 100 epochs gave 93.36 % / 93.41 %
# (val / test, seed 0); three seeds: 93.38 ± 0.14 % test, 33–34 min a seed on 2 AVX2 cores
# (docs/train.md "How the edge CNN could reach 94 %"). Erasing costs 0.36–0.48 points in 12–20-epoch trials, where the least
# regularized model wins; at full length it has not been tried without.
RECIPE = {ModelKind.SEED_CNN: Recipe(32, 15, 32, False, False, False, Schedule.CONSTANT),
          ModelKind.ANN: Recipe(32, 15, 32, False, False, False, Schedule.CONSTANT),
          ModelKind.EDGE_CNN: Recipe(32, 100, 128, True, True, True, Schedule.COSINE)}
# What a config.json written before a field existed meant by its absence: the behaviour of then.
BEFORE_FIELD = {"flip": False, "ema": 0.0, "global_pool": False, "teacher": ()}
# The edge CNN's three conv blocks (stride-2 stem, then 14×14, then 7×7). The stem's width was the
# one that paid: 16/24/32 gave 91.40/91.66/91.94 % validation accuracy in 12-epoch trials
# (README "How the edge CNN's recipe was chosen"); 32 costs 2.84 M MACs, and its int8 latency
# stays below the tutorial CNN's (README "Benchmarks"; a 48-wide middle block would not).
EDGE_BLOCK_FILTERS = (32, 32, 64)


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of one training run; defaults reproduce the tutorial CNN."""

    model: ModelKind = ModelKind.SEED_CNN
    filters: int | None = None  # None: the model kind's recipe (RECIPE)
    # edge-cnn only: the widths of its three conv blocks; None: (f, 2f, 4f) with f = ``filters``
    # when that is given, else EDGE_BLOCK_FILTERS
    block_filters: tuple[int, ...] | None = None
    kernel_size: int = 3
    pool_size: int = 2
    activation: Activation = Activation.RELU
    kernel_initializer: Initializer = Initializer.HE_UNIFORM
    dense_units: tuple[int, ...] | None = None  # None: the model kind's default
    optimizer: Optimizer = Optimizer.ADAM
    learning_rate: float | None = None  # None: the optimizer's Keras default
    momentum: float = 0.0
    epochs: int | None = None
    batch_size: int | None = None
    augment: bool | None = None  # random shifts (±1 px) of the training images
    erasing: bool | None = None  # random erasing: a blank patch on half the training images
    flip: bool | None = None  # left-right flips of half the training images
    schedule: Schedule | None = None
    # fraction of the inputs of each head (dense) layer zeroed at random while training; off in
    # every recipe: in 12-epoch edge CNN trials 0.2 and 0.4 cost 0.7 and 1.6 points
    dropout: float = 0.0
    # training targets: 1 − s for the true class, s/10 spread over all ten (0.1: −0.06 points there)
    label_smoothing: float = 0.0
    # the weights kept are an exponential moving average of the trained ones, this momentum per
    # step (0 = off): the average of the last ~1/(1 − m) steps' weights
    ema: float = 0.0
    # edge-cnn only: global average pooling of the last block instead of its max pool + flatten
    # (the dense head then sees one value per channel: 4× fewer of its weights at 3×3 maps)
    global_pool: bool = False
    # knowledge distillation: run folders whose models' averaged probabilities on each (augmented)
    # training image make up ``teacher_weight`` of its target, the true label the rest
    teacher: tuple[str, ...] = ()
    teacher_weight: float = 0.5
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
        if self.model is ModelKind.EDGE_CNN and 14 // self.pool_size // self.pool_size < 1:
            raise FmnistError(f"--pool-size {self.pool_size}: the edge CNN pools its 14×14 maps "
                              "twice, so the window must be 3 or less")
        if self.block_filters is not None and (self.model is not ModelKind.EDGE_CNN or
                                               len(self.block_filters) != 3):
            raise FmnistError("--block-filters takes three widths (e.g. 24,32,64) and applies to "
                              "--model edge-cnn only")
        if self.global_pool and self.model is not ModelKind.EDGE_CNN:
            raise FmnistError("--global-pool applies to --model edge-cnn only")
        for folder in self.teacher:
            _check_teacher(Path(folder), self.validation_size)
        for name in ("dropout", "label_smoothing", "ema", "teacher_weight"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise FmnistError(f"--{name.replace('_', '-')} {value} must be in [0, 1)")
        if self.validation_size >= 60_000:
            raise FmnistError(f"validation size {self.validation_size} leaves no training data")

    def resolved(self) -> "TrainConfig":
        """The same config with every 'default' placeholder replaced by the value used."""
        r = RECIPE[self.model]
        rates = EDGE_LEARNING_RATE if self.model is ModelKind.EDGE_CNN else DEFAULT_LEARNING_RATE
        blocks = self.block_filters
        if self.model is ModelKind.EDGE_CNN and blocks is None:
            blocks = (self.filters, 2 * self.filters, 4 * self.filters) if self.filters else \
                EDGE_BLOCK_FILTERS
        return dataclasses.replace(
            self, block_filters=None if blocks is None else tuple(blocks),
            filters=blocks[0] if blocks else self.filters or r.filters, epochs=self.epochs or r.epochs,
            batch_size=self.batch_size or r.batch_size,
            augment=r.augment if self.augment is None else self.augment,
            erasing=r.erasing if self.erasing is None else self.erasing,
            flip=r.flip if self.flip is None else self.flip,
            schedule=self.schedule or r.schedule,
            dense_units=tuple(DEFAULT_DENSE_UNITS[self.model] if self.dense_units is None
                              else self.dense_units),
            learning_rate=self.learning_rate or rates[self.optimizer],
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
                 "kernel_initializer": Initializer, "schedule": Schedule}
        values = {k: enums[k](v) if k in enums and v is not None else v
                  for k, v in data.items() if k in kinds}
        values = {**BEFORE_FIELD, **values}
        values["teacher"] = tuple(values.get("teacher") or ())
        for key in ("dense_units", "block_filters"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def _check_teacher(folder: Path, validation_size: int) -> None:
    """A teacher must be a run folder whose training never saw the student's validation images."""
    if not (folder / "model.keras").is_file():
        raise FmnistError(f"--teacher {folder}: no model.keras there (a run folder of fmnist-train)")
    try:
        theirs = json.loads((folder / "config.json").read_text()).get("validation_size")
    except (OSError, ValueError):
        theirs = None
    if theirs is None:
        raise FmnistError(f"--teacher {folder}: no config.json stating its validation split, so "
                          "it may have learned the validation images")
    if theirs != validation_size:  # the stratified split is fixed by its size
        raise FmnistError(f"--teacher {folder}: trained with a validation split of {theirs} images, "
                          f"not {validation_size}: it may have learned the validation images")
