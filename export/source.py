"""The model being exported: a Keras file, checked, hashed and wrapped in a fixed signature."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError, first_line

from .errors import ExportError

DEFAULT_RUN = Path("artifacts/seed-cnn")
INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class SourceModel:
    """A loaded Keras model with where it came from and the sha256 of its file."""

    model: object  # keras.Model
    path: Path
    sha256: str

    @property
    def run_dir(self) -> Path:
        """The run folder the model file sits in."""
        return self.path.parent


def resolve_model_path(run_dir_or_model: str | Path | None) -> Path:
    """A run folder → its ``model.keras``; a file → itself. Raises a one-line error otherwise."""
    path = Path(run_dir_or_model) if run_dir_or_model else DEFAULT_RUN
    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        hint = " (train one with fmnist-train)" if path.name == "model.keras" else ""
        raise FmnistError(f"no Keras model at {path}{hint}")
    if path.suffix != ".keras":
        raise FmnistError(f"{path}: not a Keras model file (expected a .keras file)")
    return path


def load_source(run_dir_or_model: str | Path | None) -> SourceModel:
    """Load and check the model: readable by Keras, one input shaped (None, 28, 28, 1)."""
    path = resolve_model_path(run_dir_or_model)
    import keras

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises ValueError, zipfile/OSError, KeyError… on a bad file
        raise FmnistError(f"{path}: not a loadable Keras model ({first_line(exc, 200)})") from None
    shape = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
    if shape != INPUT_SHAPE:
        raise FmnistError(f"{path}: model input is {shape}, expected one (28, 28, 1) image input")
    if tuple(model.outputs[0].shape[1:]) != (10,):
        raise FmnistError(f"{path}: model output is {tuple(model.outputs[0].shape[1:])}, expected (10,)")
    return SourceModel(model, path, hashlib.sha256(path.read_bytes()).hexdigest())


def serving_function(model):
    """A ``tf.function`` with the explicit signature ``image: float32[None, 28, 28, 1]``.

    tf2onnx's ``from_keras`` and TFLite's ``from_keras_model`` break on Keras 3; a concrete
    function with a fixed signature works for both converters.
    """
    import tensorflow as tf

    spec = tf.TensorSpec([None, *INPUT_SHAPE], tf.float32, name="image")
    return tf.function(lambda image: model(image, training=False), input_signature=[spec])


def export_saved_model(model, folder: Path) -> Path:
    """Write a TF SavedModel of ``model`` into ``folder`` (a scratch folder) and return it."""
    try:
        model.export(str(folder), format="tf_saved_model", verbose=False)
    except Exception as exc:
        raise ExportError(f"SavedModel export failed: {first_line(exc)}") from None
    return folder
