"""The calibration sample: stratified, from the training split only, shared by both formats."""

from __future__ import annotations

import numpy as np

from fmnist_edge.runtime.dataset import FashionMNIST
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.preprocessing import to_model_input
from fmnist_edge.splits import stratified_split

CALIBRATION_SEED = 0
VALIDATION_SIZE = 5000  # the training run's fixed validation split, kept out of calibration too


def calibration_indices(y_train: np.ndarray, n: int, seed: int = CALIBRATION_SEED,
                        validation_size: int = VALIDATION_SIZE) -> np.ndarray:
    """Indices into the 60k training set: ``n`` images, class-balanced, never validation or test."""
    train_idx, _ = stratified_split(y_train, validation_size)
    if not 0 < n < len(train_idx):
        raise FmnistError(f"--calibration-samples must be between 1 and {len(train_idx) - 1}, got {n}")
    _, pick = stratified_split(y_train[train_idx], n, seed=seed)
    return train_idx[pick]


def calibration_sample(data: FashionMNIST, n: int, validation_size: int = VALIDATION_SIZE) -> np.ndarray:
    """The calibration images as float32 x/255 NHWC, the training preprocessing."""
    return to_model_input(data.x_train[calibration_indices(data.y_train, n,
                                                           validation_size=validation_size)])


class CalibrationPool:
    """Calibration samples of any size from one export's training split, each drawn once."""

    def __init__(self, data: FashionMNIST, validation_size: int = VALIDATION_SIZE) -> None:
        self._data, self._validation_size, self._made = data, validation_size, {}

    def sample(self, n: int) -> np.ndarray:
        """``n`` class-balanced training images (float x/255 NHWC), never validation or test."""
        if n not in self._made:
            self._made[n] = calibration_sample(self._data, n, self._validation_size)
        return self._made[n]
