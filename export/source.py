"""The model being exported: a Keras file, checked, hashed and wrapped in a fixed signature."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from fmnist_edge.runtime.errors import FmnistError, first_line

from .errors import ExportError

DEFAULT_RUN = Path("artifacts/seed-cnn")
INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class SourceModel:
    """A loaded Keras model with where it came from and the sha256 of its file."""

    model: object  # keras.Model, as the user saved it: the reference every file is checked against
    path: Path
    sha256: str
    traced: object = None  # the copy the converters trace (see traced_copy); None = ``model``
    names: dict = field(default_factory=dict)  # traced layer name → the user's layer name

    @property
    def convertible(self):
        """The Keras model the converters trace."""
        return self.model if self.traced is None else self.traced

    @property
    def layer_names(self) -> dict[str, str]:
        """Traced layer name → the user's name, for mapping converter tensor names back."""
        return self.names or {layer.name: layer.name for layer in self.model.layers}

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
    traced, names = traced_copy(model)
    return SourceModel(model, path, hashlib.sha256(path.read_bytes()).hexdigest(), traced, names)


def traced_copy(model) -> tuple[object, dict[str, str]]:
    """A copy of ``model`` (same weights) whose layer names no converter can mistake for another's.

    Converters name tensors after TensorFlow's name scopes, which add ``_1`` to every layer's name
    when the graph is traced (``conv2d`` → ``conv2d_1``); with Keras' default names the first conv's
    scope is then the second conv's name, and the per-layer error and ``mixed``'s float layer went
    to the wrong layer. Tagged names (``conv2d_fe0``, ``conv2d_1_fe4``) end in letters+index, so no
    scope of one is the name of another. Models ``clone_model`` cannot copy (subclassed) keep
    their names: (None, {}).
    """
    import keras

    index = {id(layer): i for i, layer in enumerate(model.layers)}

    def rename(layer):
        config = layer.get_config()
        if not isinstance(layer, keras.layers.InputLayer) and id(layer) in index:
            config["name"] = f"{layer.name}_fe{index[id(layer)]}"
        return layer.__class__.from_config(config)

    try:
        traced = keras.models.clone_model(model, clone_function=rename)
        traced.set_weights(model.get_weights())
    except Exception:  # noqa: BLE001 - a model Keras cannot clone is traced under its own names
        return None, {}
    names = {copy.name: layer.name for copy, layer in zip(traced.layers, model.layers)}
    return traced, names


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
