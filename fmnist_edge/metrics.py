"""Accuracy bookkeeping of training, the export self-check, fmnist-bench and the Pi check.

One rule for accuracy, drop and agreement: ``drop_points`` is reference − model accuracy, in
points (+0.09 = the model gets 9 more of 10,000 test images wrong than the reference), and
``agreement`` is the share of images on which both give the same top-1 class. Off-device only
(a device runs models, it does not score them), so it lives outside the runtime package.
"""

from __future__ import annotations

import numpy as np

from fmnist_edge.runtime.labels import NUM_CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """Counts ``[true, predicted]`` as an n×n int64 matrix."""
    # np.intp: bincount takes platform-sized indices only, int32 on a 32-bit Pi (an int64 array
    # raised "Cannot cast array data from int64 to int32" under qemu-arm)
    y_true = np.asarray(y_true).astype(np.intp)
    y_pred = np.asarray(y_pred).astype(np.intp)
    return np.bincount(y_true * n + y_pred, minlength=n * n).astype(np.int64).reshape(n, n)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix (NaN for a class with no samples)."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / totals


def agreement(predictions: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict:
    """Top-1 accuracy of ``predictions`` and of ``reference``, the drop, and where they differ."""
    predictions, labels, reference = (np.asarray(a) for a in (predictions, labels, reference))
    accuracy = float(np.mean(predictions == labels))
    reference_accuracy = float(np.mean(reference == labels))
    return {
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "drop_points": (reference_accuracy - accuracy) * 100,
        "agreement": float(np.mean(predictions == reference)),
        "changed_indices": np.flatnonzero(predictions != reference).tolist(),
    }


def compare(predictions: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> dict:
    """:func:`agreement`, plus the per-class accuracy delta and the confusion-matrix difference.

    With no ``reference`` (a bare model file benchmarked alone) only the accuracy is known; the
    figures that need a reference are None, never a comparison of the model with itself.
    """
    if reference is None:
        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(labels))),
                **dict.fromkeys(("reference_accuracy", "drop_points", "agreement", "changed_indices",
                                 "per_class_delta_points", "confusion_diff"))}
    cm, cm_ref = confusion_matrix(labels, predictions), confusion_matrix(labels, reference)
    return {
        **agreement(predictions, labels, reference),
        "per_class_delta_points": ((per_class_accuracy(cm) - per_class_accuracy(cm_ref)) * 100).tolist(),
        "confusion_diff": (cm - cm_ref).tolist(),
    }
