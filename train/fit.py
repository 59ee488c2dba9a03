"""The Keras part of a run: seed, build, fit with a validation split, evaluate. Needs [train]."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fmnist_edge.runtime.dataset import FashionMNIST, stratified_split
from fmnist_edge.runtime.labels import NUM_CLASSES
from fmnist_edge.runtime.preprocessing import to_model_input

from .config import TrainConfig

EVAL_BATCH = 1024  # evaluation batch: large enough to amortize per-batch overhead, small in memory


@dataclass(frozen=True)
class FitResult:
    """A trained model with its per-epoch history, its scores and the test predictions."""

    model: object  # keras.Model
    history: dict
    scores: dict
    test_predictions: np.ndarray | None  # None when the test set was not touched (sweep trials)
    seconds: float


def fit(config: TrainConfig, data: FashionMNIST, verbose: int | str = "auto", test: bool = True,
        callbacks: list | None = None) -> FitResult:
    """Train ``config`` on the training split, validating on a fixed stratified split, then test.

    ``test=False`` (the sweep) never touches the test set: scores hold train and validation only
    and ``test_predictions`` is None. ``callbacks`` are extra Keras callbacks (e.g. pruning).
    """
    import keras

    from .models import build_model

    config = config.resolved()
    keras.utils.set_random_seed(config.seed)  # same seed → same initial weights and shuffling
    train_idx, val_idx = stratified_split(data.y_train, config.validation_size)
    x_tr, y_tr = to_model_input(data.x_train[train_idx]), _one_hot(data.y_train[train_idx])
    x_val, y_val = to_model_input(data.x_train[val_idx]), _one_hot(data.y_train[val_idx])
    steps = -(-len(x_tr) // config.batch_size)
    model = build_model(config, steps)
    callbacks = list(callbacks or [])
    if config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True))
    start = time.perf_counter()
    source = ({"x": augmented(x_tr, y_tr, config), "shuffle": False}  # the pipeline shuffles
              if config.augment else
              {"x": x_tr, "y": y_tr, "batch_size": config.batch_size})
    history = model.fit(**source, epochs=config.epochs, validation_data=(x_val, y_val),
                        callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - start
    scores = _evaluate(model, (x_tr, y_tr), (x_val, y_val), data if test else None)
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    if not test:
        return FitResult(model, hist, scores, None, seconds)
    probs = model.predict(to_model_input(data.x_test), batch_size=EVAL_BATCH, verbose=0)
    return FitResult(model, hist, scores, np.argmax(probs, axis=1), seconds)


# Random shifts of up to ±1 pixel: on the edge CNN, ±2 px with left-right flips made it underfit
# (training accuracy barely above validation) and cost accuracy; flips alone let it overfit.
# The validation and test images are never augmented.
SHIFT = 1 / 28


def augmented(x: np.ndarray, y: np.ndarray, config: TrainConfig):
    """A shuffled tf.data pipeline of randomly shifted training batches (±1 px, zero fill)."""
    import keras
    import tensorflow as tf

    change = keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="constant", seed=config.seed)
    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=config.seed)
    data = data.batch(config.batch_size).map(lambda a, b: (change(a, training=True), b),
                                             num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def _evaluate(model, train, val, data: FashionMNIST | None) -> dict:
    """Loss and accuracy of the final weights on the train, validation and (with data) test sets."""
    sets = {"train": train, "val": val}
    if data is not None:
        sets["test"] = (to_model_input(data.x_test), _one_hot(data.y_test))
    scores = {}
    for name, (x, y) in sets.items():
        loss, acc = model.evaluate(x, y, batch_size=EVAL_BATCH, verbose=0)
        scores[f"{name}_loss"], scores[f"{name}_accuracy"] = float(loss), float(acc)
    return scores


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]
