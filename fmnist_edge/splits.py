"""The validation split: fixed, class-balanced indices, shared by training and calibration.

Off-device only (a device never splits the data), so it lives outside the runtime package.
"""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, n_val: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation) with ``n_val`` validation items, class-balanced.

    Each class gives ``n_val`` times its share of the data (largest remainders get the rounding),
    so 5,000 of Fashion-MNIST's balanced 60k is exactly 500 per class. A fixed ``seed`` fixes the
    split, so every model and every training seed is validated on the same images.
    """
    labels = np.asarray(labels)
    if not 0 < n_val < len(labels):
        raise ValueError(f"validation size must be between 1 and {len(labels) - 1}, got {n_val}")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n_val / len(labels)
    take = np.floor(quota).astype(int)
    take[np.argsort(-(quota - take), kind="stable")[: n_val - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    val = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    val_idx = np.sort(np.concatenate(val))
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx, assume_unique=True)
    return train_idx, val_idx
