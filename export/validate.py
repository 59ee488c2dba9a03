"""Self-check: an exported file over the full 10k test set, through the runtime's own code path.

The figures are what a plain ai-edge-litert / onnxruntime user gets from the same file: the
runtime's reader, x/255 NHWC preprocessing, and the file's own input scale and zero point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import Format


def load_artifact(path: Path, fmt: Format):
    """The runtime model object for an exported file."""
    if fmt is Format.TFLITE:
        from fmnist_edge.runtime.backend_litert import LiteRTModel

        return LiteRTModel(path)
    from fmnist_edge.runtime.backend_onnx import OnnxModel

    return OnnxModel(path)


def check_artifact(runtime_model, x_test: np.ndarray, y_test: np.ndarray,
                   reference_predictions: np.ndarray, max_drop: float) -> dict:
    """Accuracy, top-1 agreement with the reference (Keras) and the drop in points."""
    predictions = np.argmax(runtime_model.predict_images(x_test), axis=1)
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
