"""Regenerate the tiny models bundled for ``fmnist-doctor`` (``make doctor-models``).

They only prove that a backend can load and run a model shaped like ours (28×28×1 in, 10 out),
so their weights are random and untrained: a 2-filter CNN, a few KB per file, small enough to
ship inside the runtime package.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

BUNDLE = Path(__file__).resolve().parent.parent / "runtime" / "models"


def tiny_cnn(seed: int = 0, input_shape: tuple = (28, 28, 1)):
    """Conv2D(2, 3×3) → MaxPool(2) → Flatten → Dense(10, softmax), random weights (~3.4 k).

    Also the test suite's tiny model: it exports in seconds and has a conv, a pool and a dense.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Conv2D(2, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x), name="doctor_tiny")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``make doctor-models``: parse (no options), then :func:`write_models`."""
    from fmnist_edge.runtime import cliutil

    cliutil.ArgumentParser(prog="python -m fmnist_edge.export.doctor_models",
                           description="Regenerate the tiny random-weight models bundled for "
                           "fmnist-doctor (int8 TFLite, float32 ONNX).").parse_args(argv)
    return cliutil.run("doctor-models", write_models)


def write_models() -> int:
    """Write ``runtime/models/doctor-tiny.{tflite,onnx}`` (int8 TFLite, float32 ONNX)."""
    from .config import Quantization
    from .onnx_export import export_onnx
    from .source import export_saved_model
    from .tflite_export import export_tflite

    model = tiny_cnn()
    calibration = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    BUNDLE.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        saved = export_saved_model(model, Path(scratch) / "saved")
        export_tflite(saved, Quantization.INT8, calibration, BUNDLE / "doctor-tiny.tflite")
    export_onnx(model, Quantization.NONE, calibration, BUNDLE / "doctor-tiny.onnx",
                {"producer": "fmnist-edge", "purpose": "fmnist-doctor smoke test (random weights)"})
    for path in sorted(BUNDLE.glob("doctor-tiny.*")):
        print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
