"""The hyperparameters ``fmnist-sweep`` varies: values to ablate, ranges to search, and what each does.

Names are TrainConfig fields. Each has the values an ablation tries one at a time (the tutorial's
own value among them) and the distribution a search samples from; ``--set NAME=...`` replaces
either (``8,16,32`` for ablation values, ``LOW:HIGH`` for a search range).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from fmnist_edge.runtime.errors import FmnistError

from .config import Activation, Initializer, Optimizer, TrainConfig


@dataclass(frozen=True)
class Hyperparameter:
    """One knob: its ablation values, its search range, and a plain-language description."""

    name: str
    values: tuple  # ablation values, in plot order
    low: float | None = None  # search range (numeric knobs); None: choose among ``values``
    high: float | None = None
    log: bool = False  # search and plot on a log scale
    integer: bool = False
    does: str = ""

    @property
    def numeric(self) -> bool:
        """True when values are numbers (plotted on an axis), False for named choices."""
        return not isinstance(self.values[0], str)


SPACE = {h.name: h for h in (
    # filters and batch size are searched among powers of two: int8 kernels tile channels by 8/16
    # (20/40/80 channels measured slower than 16/32/64), and batches of 72 teach nothing new
    Hyperparameter("filters", (8, 16, 32, 64, 128), None, None, True, True,
                   "how many feature detectors (3×3 patterns such as edges and textures) the "
                   "convolution learns; each adds a channel to everything after it"),
    Hyperparameter("kernel_size", (3, 5, 7), does="the size of each detector's window in pixels; "
                   "larger windows see more context per step but cost more multiply-adds"),
    Hyperparameter("pool_size", (1, 2, 3, 4), does="max pooling keeps the strongest response in "
                   "each p×p window, so the maps shrink p² times (1 = no pooling)"),
    Hyperparameter("activation", ("relu", "elu", "tanh", "sigmoid"), does="the nonlinearity after "
                   "each hidden layer; relu passes positives and zeroes negatives, sigmoid and tanh "
                   "saturate, which slows learning in deeper nets"),
    Hyperparameter("kernel_initializer", ("he_uniform", "glorot_uniform", "random_normal"),
                   does="how the starting weights are drawn; he_* scales them for ReLU, glorot_* "
                   "for tanh/sigmoid, random_normal uses one fixed spread for every layer"),
    Hyperparameter("dense_units", (25, 50, 100, 200, 400), 25, 400, True, True,
                   "neurons in the hidden dense layer that turns the features into a decision"),
    Hyperparameter("optimizer", ("sgd", "adam", "rmsprop"), does="the weight-update rule: sgd takes "
                   "plain gradient steps, adam and rmsprop adapt the step size per weight"),
    Hyperparameter("learning_rate", (1e-4, 1e-3, 1e-2, 1e-1), 1e-4, 1e-1, True,
                   does="how far each update moves the weights: too small learns slowly, too large "
                   "overshoots and diverges"),
    Hyperparameter("batch_size", (16, 32, 64, 128, 256, 512), None, None, True, True,
                   "images per update: small batches give many noisy steps per epoch, large ones "
                   "few smooth steps (and run faster per image)"),
    Hyperparameter("epochs", (1, 2, 3, 6), does="passes over the 55k training images; more passes "
                   "fit the training data better until the model starts to memorize it"),
)}
CHOICES = {"activation": Activation, "kernel_initializer": Initializer, "optimizer": Optimizer}
SEARCHED = ("filters", "kernel_size", "pool_size", "activation", "kernel_initializer", "dense_units",
            "optimizer", "learning_rate", "batch_size")  # epochs stays the budget in a search


def epochs_values(epochs: int) -> tuple[int, ...]:
    """Ablation values for epochs around the sweep's own budget: 1, half, the budget, double."""
    return tuple(sorted({1, max(1, epochs // 2), epochs, 2 * epochs}))


def parse_names(text: str | None) -> tuple[str, ...]:
    """``--params a,b`` → names, checked against SPACE (all of them when ``text`` is None)."""
    if not text:
        return tuple(SPACE)
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SPACE]
    if unknown or not names:
        raise FmnistError(f"unknown hyperparameter {', '.join(unknown) or repr(text)}; "
                          f"choose from {', '.join(SPACE)}")
    return names


def with_setting(space: dict, setting: str) -> dict:
    """Apply one ``--set NAME=V1,V2`` (ablation values) or ``NAME=LOW:HIGH`` (search range)."""
    name, sep, text = setting.partition("=")
    h = space.get(name.strip())
    if not sep or h is None:
        raise FmnistError(f"--set {setting!r}: expected NAME=V1,V2,... or NAME=LOW:HIGH with NAME "
                          f"one of {', '.join(space)}")
    if ":" in text:
        low, high = (_number(h, part) for part in text.split(":", 1))
        if not h.numeric or not low < high:
            raise FmnistError(f"--set {setting!r}: empty range (need a numeric LOW < HIGH)")
        if h.log and low <= 0:
            raise FmnistError(f"--set {setting!r}: {name} is searched on a log scale; LOW must be > 0")
        return {**space, h.name: dataclasses.replace(h, low=low, high=high)}
    values = tuple(_number(h, v) if h.numeric else v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise FmnistError(f"--set {setting!r}: empty list of values")
    if not h.numeric:
        bad = [v for v in values if v not in [c.value for c in CHOICES[h.name]]]
        if bad:
            raise FmnistError(f"--set {setting!r}: unknown {name} {', '.join(bad)}")
    return {**space, h.name: dataclasses.replace(h, values=values)}


def _number(h: Hyperparameter, text: str):
    try:
        value = float(text)
    except ValueError:
        raise FmnistError(f"--set {h.name}: {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise FmnistError(f"--set {h.name}: {text!r} must be a positive number")
    return int(value) if h.integer or h.name in ("kernel_size", "pool_size", "epochs") else value


def apply(base: TrainConfig, params: dict) -> TrainConfig:
    """``base`` with ``params`` (names → plain values) set, Enums restored."""
    values = {}
    for name, value in params.items():
        if name in CHOICES:
            value = CHOICES[name](value)
        elif name == "dense_units":
            value = (int(value),)
        values[name] = value
    return dataclasses.replace(base, **values)
