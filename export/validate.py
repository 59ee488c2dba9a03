"""Self-check: an exported file over the full 10k test set, through the runtime's own code path.

The figures are what a plain ai-edge-litert / onnxruntime user gets from the same file: the
runtime's reader, x/255 NHWC preprocessing, and the file's own input scale and zero point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.runtime.formats import FORMATS, Format


def load_artifact(path: Path, fmt: Format):
    """The runtime Classifier for a freshly written file (not yet in a manifest)."""
    from fmnist_edge.runtime.classifier import Classifier

    # the format's first engine, which the export extras install (ai-edge-litert, onnxruntime)
    return Classifier.load(path, backend=FORMATS[fmt].backends[0], verify=False)


def check_artifact(classifier, x_test: np.ndarray, y_test: np.ndarray,
                   reference_predictions: np.ndarray, max_drop: float) -> dict:
    """Accuracy, top-1 agreement with the reference (Keras) and the drop in points."""
    predictions = np.argmax(classifier.predict(x_test), axis=1)
    accuracy = float(np.mean(predictions == y_test))
    reference = float(np.mean(reference_predictions == y_test))
    drop = (reference - accuracy) * 100
    return {
        "test_images": int(len(y_test)),
        "accuracy": accuracy,
        "reference_accuracy": reference,
        "drop_points": round(drop, 4),
        "agreement": float(np.mean(predictions == reference_predictions)),
        "changed_predictions": int(np.sum(predictions != reference_predictions)),
        "max_drop": max_drop,
        "passed": bool(drop <= max_drop),
    }
