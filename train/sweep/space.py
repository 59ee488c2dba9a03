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

from ..config import Activation, Initializer, ModelKind, Optimizer, TrainConfig


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
    # edge-cnn only, as "stem-middle-last" widths; named choices, since widths trade accuracy for
    # int8 latency unevenly (a wider stem is almost free, a wider middle block is not)
    Hyperparameter("block_filters", ("16-32-64", "24-32-64", "32-32-64", "16-48-64", "16-32-96"),
                   does="edge-cnn only: the widths of its three conv blocks (the 14×14 stride-2 "
                   "stem, the 14×14 block, the 7×7 block); wider blocks see more patterns but the "
                   "two later ones multiply the work of every image"),
    # regularizers, opt-in (--params): not in the tutorial, and in 12-epoch edge CNN trials none
    # helped (README "How the edge CNN's recipe was chosen")
    Hyperparameter("dropout", (0.0, 0.1, 0.2, 0.3, 0.5), 0.0, 0.5, does="the fraction of each "
                   "dense layer's inputs zeroed at random while training, so that no neuron can "
                   "lean on one feature; it fights memorizing and costs nothing at inference"),
    Hyperparameter("label_smoothing", (0.0, 0.05, 0.1, 0.2), 0.0, 0.2, does="trains towards "
                   "1 − s for the true class and s/10 for each class instead of 1 and 0, so the "
                   "model is never pushed to be certain; a regularizer for ambiguous classes"),
    Hyperparameter("erasing", ("off", "on"), does="random erasing: blank one rectangle (2–40 % "
                   "of the image) on half the training images, so the model must recognize a "
                   "garment from any part of it"),
    Hyperparameter("flip", ("off", "on"), does="flip half the training images left to right: "
                   "a mirrored shirt is still a shirt, so the model sees twice the variety"),
    Hyperparameter("ema", (0.0, 0.99, 0.999), 0.0, 0.9999, does="ship an exponential moving "
                   "average of the weights (momentum m per step, about the last 1/(1 − m) steps) "
                   "instead of the last step's, which smooths out the noise of the final updates"),
    Hyperparameter("global_pool", ("off", "on"), does="edge-cnn only: average each channel of "
                   "the last block into one value instead of keeping its 3×3 map, so the dense "
                   "head has 9× fewer inputs (a smaller file) but loses where a feature was"),
    Hyperparameter("teacher_weight", (0.0, 0.5, 0.8), 0.0, 0.9, does="with fmnist-sweep "
                   "--teacher: the share of each training target that the teacher models' "
                   "probabilities make up (distillation; 0 = the true labels only)"),
    Hyperparameter("epochs", (1, 2, 3, 6), does="passes over the 55k training images; more passes "
                   "fit the training data better until the model starts to memorize it"),
)}
CHOICES = {"activation": Activation, "kernel_initializer": Initializer, "optimizer": Optimizer}
SEARCHED = ("filters", "kernel_size", "pool_size", "activation", "kernel_initializer", "dense_units",
            "optimizer", "learning_rate", "batch_size", "block_filters", "dropout", "label_smoothing",
            "erasing", "flip", "ema", "global_pool", "teacher_weight")  # epochs: the budget
EDGE_ONLY = ("block_filters", "global_pool")
# varied only when --params names them
OPT_IN = ("dropout", "label_smoothing", "erasing", "flip", "ema", "global_pool", "teacher_weight")
SWITCHES = ("erasing", "flip", "global_pool")  # TrainConfig booleans, written "on"/"off"
FRACTIONS = ("dropout", "label_smoothing", "ema", "teacher_weight")  # values in [0, 1), 0 = off


def epochs_values(epochs: int) -> tuple[int, ...]:
    """Ablation values for epochs around the sweep's own budget: 1, half, the budget, double."""
    return tuple(sorted({1, max(1, epochs // 2), epochs, 2 * epochs}))


def parse_names(text: str | None, model: ModelKind = ModelKind.SEED_CNN) -> tuple[str, ...]:
    """``--params a,b`` → names, checked against SPACE (all that apply to ``model`` when None).

    The edge CNN's ``filters`` and ``block_filters`` both set its widths, so its default list
    keeps only ``block_filters``.
    """
    edge = model is ModelKind.EDGE_CNN
    if not text:
        skip = (("filters",) if edge else EDGE_ONLY) + OPT_IN
        return tuple(n for n in SPACE if n not in skip)
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in SPACE]
    if unknown or not names:
        raise FmnistError(f"unknown hyperparameter {', '.join(unknown) or repr(text)}; "
                          f"choose from {', '.join(SPACE)}")
    misplaced = [n for n in names if n in EDGE_ONLY and not edge]
    if misplaced:
        raise FmnistError(f"{', '.join(misplaced)} applies to --model edge-cnn only")
    return names


def base_setting(setting: str, model: ModelKind) -> tuple[str, object]:
    """One ``--base NAME=VALUE``: a single value that replaces the recipe's in the base config."""
    name = setting.partition("=")[0].strip()
    parse_names(name, model)  # an unknown or misplaced name: the same errors as --params
    try:
        values = with_setting(SPACE, setting)[name].values
    except FmnistError as exc:  # the same checks as --set, named after the option given
        raise FmnistError(str(exc).replace("--set", "--base", 1)) from None
    if ":" in setting or len(values) != 1:
        raise FmnistError(f"--base {setting!r}: give one value, e.g. {name}={SPACE[name].values[0]}")
    return name, values[0]


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
    if h.name == "block_filters":
        for v in values:
            _widths(v)  # raises on a malformed value
    elif not h.numeric:
        allowed = ("off", "on") if h.name in SWITCHES else [c.value for c in CHOICES[h.name]]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise FmnistError(f"--set {setting!r}: unknown {name} {', '.join(bad)}")
    return {**space, h.name: dataclasses.replace(h, values=values)}


def _number(h: Hyperparameter, text: str):
    try:
        value = float(text)
    except ValueError:
        raise FmnistError(f"--set {h.name}: {text!r} is not a number") from None
    if h.name in FRACTIONS:
        if not 0 <= value < 1:
            raise FmnistError(f"--set {h.name}: {text!r} must be in [0, 1)")
    elif not math.isfinite(value) or value <= 0:
        raise FmnistError(f"--set {h.name}: {text!r} must be a positive number")
    return int(value) if h.integer or h.name in ("kernel_size", "pool_size", "epochs") else value


def _widths(text: str) -> tuple[int, ...]:
    """``"24-32-64"`` → (24, 32, 64): the edge CNN's three block widths."""
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise FmnistError(f"--set block_filters: {text!r} is not three widths like 24-32-64")
    return tuple(int(p) for p in parts)


def apply(base: TrainConfig, params: dict) -> TrainConfig:
    """``base`` with ``params`` (names → plain values) set, Enums restored."""
    values = {}
    for name, value in params.items():
        if name in CHOICES:
            value = CHOICES[name](value)
        elif name == "dense_units":
            value = (int(value),)
        elif name in SWITCHES:
            value = value == "on"
        elif name == "block_filters":
            value = _widths(value)
            values["filters"] = value[0]
        elif name == "filters" and base.model is ModelKind.EDGE_CNN:
            values["block_filters"] = (int(value), 2 * int(value), 4 * int(value))
        values[name] = value
    return dataclasses.replace(base, **values)
