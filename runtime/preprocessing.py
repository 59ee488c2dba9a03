"""The one preprocessing step the models are trained with, shared by train, export and runtime.

Pixels are uint8 0..255, light garment on a dark background (the dataset's own polarity). The
models see ``x / 255`` as float32 in NHWC layout ``(N, 28, 28, 1)``.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 28
INPUT_SCALE = 1.0 / 255.0
LAYOUT = "NHWC"


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Convert uint8 images shaped (28,28), (N,28,28) or (N,28,28,1) to float32 (N,28,28,1) in [0, 1]."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError(f"expected images shaped (N, 28, 28[, 1]), got {np.shape(images)}")
    return x.astype(np.float32) * np.float32(INPUT_SCALE)
