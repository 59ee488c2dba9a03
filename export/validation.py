"""The validation split every export decision reads (per-layer error, fallback, calibration choice).

It is the training run's own held-out split (``config.json``'s ``validation_size``, the same
stratified indices ``fmnist-train`` validated on), never the test set: the test images are read
only by the final self-check, after every decision is made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_edge.metrics import agreement
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.preprocessing import to_model_input
from fmnist_edge.splits import stratified_split

DEBUG_IMAGES = 1000  # per-layer error sample: 100 per class; TFLite's debugger runs one at a time


RIGHT = "_right"  # a score's per-image right/wrong: in memory only, never in a manifest


@dataclass(frozen=True)
class Validation:
    """The validation images (uint8), their labels and the Keras model's predictions on them."""

    images: np.ndarray
    labels: np.ndarray
    reference: np.ndarray  # argmax of the float Keras model
    size: int  # the run's validation_size

    def debug_sample(self, n: int = DEBUG_IMAGES) -> np.ndarray:
        """``n`` class-balanced validation images as float x/255 NHWC (the debuggers' input)."""
        if n >= len(self.labels):
            return to_model_input(self.images)
        _, pick = stratified_split(self.labels, n, seed=1)
        return to_model_input(self.images[pick])

    def score(self, probabilities: np.ndarray) -> dict:
        """Accuracy, drop against Keras (points) and top-1 agreement with Keras on this split.

        ``RIGHT`` holds the per-image right/wrong (numpy bools) for the decisions that compare two
        candidates paired (see .noise); they take it out before the score is written anywhere.
        """
        predictions = np.argmax(probabilities, axis=1)
        facts = agreement(predictions, self.labels, self.reference)
        return {RIGHT: predictions == self.labels, "images": int(len(self.labels)), "accuracy": facts["accuracy"],
                "drop_points": round(facts["drop_points"], 4), "agreement": facts["agreement"],
                "accuracy_ci": facts["accuracy_ci"], "agreement_ci": facts["agreement_ci"],
                "paired": facts["paired"]}


def validation_size(run_dir: Path) -> int | None:
    """The run's validation split size from its ``config.json``; None when the run has none."""
    path = Path(run_dir) / "config.json"
    try:
        size = json.loads(path.read_text()).get("validation_size")
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and size > 0 else None


def load_validation(data, run_dir: Path, model) -> Validation | None:
    """The run's validation images with the Keras predictions; None when the split is unknown."""
    size = validation_size(run_dir)
    if size is None or size >= len(data.y_train):
        return None
    _, val_idx = stratified_split(data.y_train, size)
    images, labels = data.x_train[val_idx], data.y_train[val_idx]
    reference = np.argmax(model.predict(to_model_input(images), batch_size=1024, verbose=0), axis=1)
    return Validation(images, labels, reference, size)


def require_validation(validation: Validation | None, run_dir: Path, what: str) -> Validation:
    """The split, or a one-line input error (exit 2) naming why there is none."""
    if validation is None:
        raise FmnistError(f"{what} needs the training run's validation images, but "
                          f"{Path(run_dir) / 'config.json'} does not name a validation split "
                          "(export a run folder made by fmnist-train)")
    return validation
