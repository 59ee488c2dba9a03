"""The calibration sample: stratified, from the training split only, shared by both formats."""

from __future__ import annotations

import numpy as np

from fmnist_edge.runtime.dataset import FashionMNIST
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.preprocessing import to_model_input
from fmnist_edge.splits import stratified_split

CALIBRATION_SEED = 0
VALIDATION_SIZE = 5000  # the training run's fixed validation split, kept out of calibration too


def calibration_indices(y_train: np.ndarray, n: int, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """Indices into the 60k training set: ``n`` images, class-balanced, never validation or test."""
    train_idx, _ = stratified_split(y_train, VALIDATION_SIZE)
    if not 0 < n < len(train_idx):
        raise FmnistError(f"--calibration-samples must be between 1 and {len(train_idx) - 1}, got {n}")
    _, pick = stratified_split(y_train[train_idx], n, seed=seed)
    return train_idx[pick]


def calibration_sample(data: FashionMNIST, n: int) -> np.ndarray:
    """The calibration images as float32 x/255 NHWC, the training preprocessing."""
    return to_model_input(data.x_train[calibration_indices(data.y_train, n)])
