"""Self-check: an exported file over the full 10k test set, through the runtime's own code path.

The figures are what a plain ai-edge-litert / onnxruntime user gets from the same file: the
runtime's reader, x/255 NHWC preprocessing, and the file's own input scale and zero point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.metrics import agreement
from fmnist_edge.runtime.formats import FORMATS, Format


def load_artifact(path: Path, fmt: Format, threads: int | None = None):
    """The runtime Classifier for a freshly written file (not yet in a manifest)."""
    from fmnist_edge.runtime.classifier import Classifier

    # the format's first engine, which the export extras install (ai-edge-litert, onnxruntime)
    return Classifier.load(path, backend=FORMATS[fmt].backends[0], verify=False, threads=threads)


def check_artifact(classifier, x_test: np.ndarray, y_test: np.ndarray,
                   reference_predictions: np.ndarray, max_drop: float) -> dict:
    """Accuracy, top-1 agreement with the reference (Keras) and the drop in points."""
    predictions = np.argmax(classifier.predict(x_test), axis=1)
    facts = agreement(predictions, y_test, reference_predictions)
    return {
        "test_images": int(len(y_test)),
        "accuracy": facts["accuracy"],
        "reference_accuracy": facts["reference_accuracy"],
        "drop_points": round(facts["drop_points"], 4),
        "agreement": facts["agreement"],
        "accuracy_ci": facts["accuracy_ci"], "reference_accuracy_ci": facts["reference_accuracy_ci"],
        "agreement_ci": facts["agreement_ci"], "paired": facts["paired"],
        "changed_predictions": len(facts["changed_indices"]),
        "max_drop": max_drop,
        "passed": bool(facts["drop_points"] <= max_drop),
    }
