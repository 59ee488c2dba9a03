"""Accuracy bookkeeping of training, the export self-check, fmnist-bench and the Pi check.

One rule for accuracy, drop and agreement: ``drop_points`` is reference − model accuracy, in
points (+0.09 = the model gets 9 more of 10,000 test images wrong than the reference), and
``agreement`` is the share of images on which both give the same top-1 class. Every accuracy
and agreement carries its Wilson 95 % interval (``*_ci``, fractions) and every drop its paired
test (``paired``: the discordant counts, exact McNemar p, Newcombe's interval in points; see
:mod:`fmnist_edge.intervals`). Off-device only (a device runs models, it does not score them),
so it lives outside the runtime package.
"""

from __future__ import annotations

import numpy as np

from fmnist_edge.intervals import Paired, paired_counts, wilson
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
    right, reference_right = predictions == labels, reference == labels
    accuracy = float(np.mean(right))
    reference_accuracy = float(np.mean(reference_right))
    n, same = len(labels), int(np.sum(predictions == reference))
    return {
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "drop_points": (reference_accuracy - accuracy) * 100,
        "agreement": same / n if n else float("nan"),
        "changed_indices": np.flatnonzero(predictions != reference).tolist(),
        "accuracy_ci": accuracy_ci(int(np.sum(right)), n),
        "reference_accuracy_ci": accuracy_ci(int(np.sum(reference_right)), n),
        "agreement_ci": accuracy_ci(same, n),
        "paired": paired(right, reference_right).as_dict() if n else None,
    }


def paired(model_right, reference_right) -> Paired:
    """The paired comparison of two models from their per-image right/wrong on the same images."""
    model_right, reference_right = np.asarray(model_right, bool), np.asarray(reference_right, bool)
    if model_right.shape != reference_right.shape:
        raise ValueError(f"{model_right.size} answers of the model, "
                         f"{reference_right.size} of the reference")
    both = int(np.sum(model_right & reference_right))
    only_reference = int(np.sum(reference_right & ~model_right))
    only_model = int(np.sum(model_right & ~reference_right))
    neither = model_right.size - both - only_reference - only_model
    return paired_counts(both, only_reference, only_model, neither)


def accuracy_ci(right: int, n: int) -> list[float] | None:
    """The Wilson 95 % interval of ``right`` of ``n`` as [low, high] fractions (None for n = 0)."""
    return list(wilson(right, n)) if n else None


def mean_accuracy_ci(accuracy: float, n: int | None) -> list[float] | None:
    """The interval of an accuracy given as a mean over ``n`` images (Keras' evaluate, a record).

    A mean of right answers times the image count, rounded, is the count again (even a float32
    mean is off by under 0.01 images at 60,000: relative error 6e-8).
    """
    return accuracy_ci(round(accuracy * n), n) if n else None


def per_class(labels: np.ndarray, predictions: np.ndarray, n: int = NUM_CLASSES) -> list[dict]:
    """Each class's accuracy (recall) with its Wilson 95 % interval, from its own images."""
    cm = confusion_matrix(labels, predictions, n)
    return [{"accuracy": float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None,
             "images": int(cm[i].sum()), "ci": accuracy_ci(int(cm[i, i]), int(cm[i].sum()))}
            for i in range(n)]


def compare(predictions: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> dict:
    """:func:`agreement`, plus per-class accuracies and deltas, and the confusion-matrix difference.

    With no ``reference`` (a bare model file benchmarked alone) only the accuracy is known; the
    figures that need a reference are None, never a comparison of the model with itself.
    """
    classes = per_class(labels, predictions)
    if reference is None:
        right = np.asarray(predictions) == np.asarray(labels)
        return {"accuracy": float(np.mean(right)), "accuracy_ci": accuracy_ci(int(right.sum()), right.size),
                "per_class": classes,
                **dict.fromkeys(("reference_accuracy", "drop_points", "agreement", "changed_indices",
                                 "per_class_delta_points", "confusion_diff", "reference_accuracy_ci",
                                 "agreement_ci", "paired"))}
    cm, cm_ref = confusion_matrix(labels, predictions), confusion_matrix(labels, reference)
    return {
        **agreement(predictions, labels, reference),
        "per_class": classes,
        "per_class_delta_points": ((per_class_accuracy(cm) - per_class_accuracy(cm_ref)) * 100).tolist(),
        "confusion_diff": (cm - cm_ref).tolist(),
    }
