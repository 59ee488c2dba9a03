"""Accuracy of a model against the labels and against the float reference model's predictions."""

from __future__ import annotations

import numpy as np

from fmnist_edge.runtime.metrics import confusion_matrix, per_class_accuracy


def compare(predictions: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict:
    """Accuracy, drop and agreement vs the reference, per-class delta, changed indices, confusion diff."""
    accuracy = float(np.mean(predictions == labels))
    reference_accuracy = float(np.mean(reference == labels))
    cm, cm_ref = confusion_matrix(labels, predictions), confusion_matrix(labels, reference)
    changed = np.flatnonzero(predictions != reference)
    return {
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "drop_points": (reference_accuracy - accuracy) * 100,
        "agreement": float(np.mean(predictions == reference)),
        "per_class_delta_points": ((per_class_accuracy(cm) - per_class_accuracy(cm_ref)) * 100).tolist(),
        "changed_indices": changed.tolist(),
        "confusion_diff": (cm - cm_ref).tolist(),
    }
