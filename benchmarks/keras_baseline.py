"""The Keras float model as the baseline, when TensorFlow is installed (on a device it is not)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.preprocessing import to_model_input

from .timing import Candidate

KERAS_PREDICT_SCALE = 0.01  # model.predict costs ~40 ms a call: time 1 % as many calls


def load_keras(export_dir: Path, manifest: dict):
    """The source Keras model named in the manifest, or (None, reason) without TensorFlow."""
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
    except ImportError:
        return None, "TensorFlow/Keras not installed: Keras baseline skipped"
    path = (Path(export_dir) / manifest.get("source", {}).get("file", "../model.keras")).resolve()
    if not path.is_file():
        return None, f"source model {path} not found: Keras baseline skipped"
    model = keras.saving.load_model(path, compile=False)
    model._fmnist_source = str(path)  # the cold-start probe loads the same file in a fresh process
    return model, str(path)


def keras_candidates(model) -> list[Candidate]:
    """``model.predict`` (what tutorials use) and a compiled ``model(x, training=False)`` call."""
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), jit_compile=False)

    def prepare(images):
        return to_model_input(images)

    def predict(images):
        return model.predict(prepare(images), verbose=0)

    def compiled(images):
        return call(prepare(images)).numpy()

    return [Candidate("keras:predict", predict, predict, KERAS_PREDICT_SCALE),
            Candidate("keras:call", compiled, compiled)]


def keras_predictions(model, images: np.ndarray) -> np.ndarray:
    """Top-1 predictions of the Keras model over ``images``."""
    return np.argmax(model.predict(to_model_input(images), batch_size=1024, verbose=0), axis=1)
