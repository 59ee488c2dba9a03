"""``Classifier``: the public API that runs an exported model, TensorFlow-free.

    clf = Classifier.load("artifacts/seed-cnn/export")      # the int8 TFLite model
    clf.predict(images)          # uint8 (28,28) / (N,28,28) / (N,28,28,1) → (N, 10) probabilities
    clf.classify(images, top_k=3)

Labels, preprocessing scale and quantization come from the manifest and the model file itself.
The batch-1 path writes into a preallocated input buffer and allocates only the result.

Threads: one ``Classifier`` may be shared by any number of threads. Each call takes a runner of
its own from an idle list (a new one when every runner is busy: a TFLite interpreter, or an ONNX
Runtime I/O binding on the one shared session), so calls in different threads neither wait for
each other nor share a buffer, and every answer is the one a lone caller would get.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from . import amx as amx_policy
from . import manifest as mf
from .backends import open_runner, runnable_formats
from .errors import FmnistError, first_line
from .formats import Quantization, format_of
from .labels import CLASS_NAMES
from .options import ModelOptions
from .preprocessing import IMAGE_SIZE, INPUT_SCALE
from .quantize import dequantize, is_pixel_shift, quantize, quantize_images

if TYPE_CHECKING:  # pathlib is imported only when Classifier.path is read: with its urllib.parse it
    from pathlib import Path  # is ~4 ms of fmnist-predict's ~100 ms cold start (runtime.md)

ONE_IMAGE = {(IMAGE_SIZE, IMAGE_SIZE), (1, IMAGE_SIZE, IMAGE_SIZE), (1, IMAGE_SIZE, IMAGE_SIZE, 1)}
U8 = np.dtype(np.uint8)
# Probabilities must sum to 1 within this: int8 outputs are 1/256 steps, 10 classes round apart
# by up to 10 × 1/512 ≈ 0.02; a NaN, a negative value or a non-softmax output misses by far more.
SUM_TOLERANCE = 0.05


class InputError(FmnistError, ValueError):
    """Images of the wrong shape, dtype or range."""


class OutputError(FmnistError):
    """The model returned something that is not a probability distribution (NaN, ∞, < 0, Σ ≠ 1)."""


class _Slot:
    """One runner and its batch-1 uint8 call, used by one thread at a time."""

    __slots__ = ("runner", "u8")

    def __init__(self, runner, u8) -> None:
        self.runner, self.u8 = runner, u8


class Prediction(NamedTuple):  # a record, not a dataclass: 0.4 ms less at import (runtime.formats)
    """One class guess: its label, class index and probability."""

    label: str
    index: int
    score: float


class Classifier:
    """An exported Fashion-MNIST model on a TensorFlow-free backend."""

    def __init__(self, runner, labels: tuple[str, ...], scale: float, path: str | os.PathLike,
                 entry: dict | None) -> None:
        self.runner, self.labels, self.entry = runner, tuple(labels), entry
        self.file = os.fspath(path)  # the model file, as given or found in its folder
        self.scale = float(scale)
        self.choice: dict | None = None  # with choose="fastest": the timings behind the choice
        self._post = self._postprocessor()
        self._idle = [self._slot(runner)]  # list.pop/append are atomic: no lock on the hot path

    @classmethod
    def load(cls, path: str | os.PathLike, options: ModelOptions | None = None,
             **changes) -> "Classifier":
        """Load a .tflite/.onnx file, or the ``format``/``quantization`` model of an export folder.

        ``options`` (:class:`~fmnist_edge.runtime.options.ModelOptions`), with any of its fields
        given as keywords on top (``Classifier.load(folder, threads=1)``). In a folder the default
        is the int8 model of the first format a backend here can run (TFLite, then ONNX);
        ``choose="fastest"`` instead times every variant whose recorded drop is at most
        ``max_drop`` points and loads the fastest (cached; see :mod:`fmnist_edge.runtime.choose`).
        The file's sha256 must match the manifest unless ``verify=False``.
        ``amx`` (``deny``/``allow``, default ``$FMNIST_AMX``) is applied once per process before
        the engine loads; with neither, the process is left as it is (one warning on a CPU with
        Intel AMX); see :mod:`fmnist_edge.runtime.amx`.
        """
        options = replace(options or ModelOptions(), **changes)
        amx_policy.apply_policy(options.amx)
        path = os.fspath(path)
        if os.path.isdir(path):
            manifest = mf.read_manifest(path)
            if manifest is None:
                raise FmnistError(f"{path}: no {mf.MANIFEST} here; pass a .tflite/.onnx file "
                                  "or an export folder written by fmnist-export")
            if options.choose is not None:
                from pathlib import Path

                from .choose import choose_fastest

                return choose_fastest(lambda file: cls.load(file, options, choose=None), Path(path),
                                      manifest, options.backend, options.threads, options.max_drop)
            formats = [options.format] if options.format else runnable_formats(options.backend)
            entry = mf.choose_entry(manifest, path, formats, options.quantization or Quantization.INT8)
            file = os.path.join(path, entry["file"])
        else:
            folder = os.path.dirname(path) or "."
            file, manifest = path, mf.read_manifest(folder) if os.path.isdir(folder) else None
            entry = mf.entry_for_file(manifest, os.path.basename(path))
        data = _read_model(file)
        if options.verify and entry:
            mf.verify(file, data, entry)
        runner = open_runner(data, format_of(file), str(file), options.backend, options.threads)
        labels, scale = _facts(entry, manifest, runner)
        _check_io(runner, file, len(labels))
        return cls(runner, labels, scale, file, entry)._probed()

    @property
    def path(self) -> Path:
        """The model file as a ``pathlib.Path``."""
        from pathlib import Path

        return Path(self.file)

    @property
    def backend(self) -> str:
        """The engine running the model (``litert``, ``tflite-runtime`` or ``onnxruntime``)."""
        return self.runner.backend

    def predict(self, images) -> np.ndarray:
        """Probabilities (N, 10) for uint8 pixels or float x/255 images (one or a batch).

        Safe to call from several threads at once; each gets its own runner (see the module).
        """
        x = images if isinstance(images, np.ndarray) else np.asarray(images)
        idle = self._idle
        try:
            slot = idle.pop()
        except IndexError:  # every runner is busy in another thread
            slot = self._slot(self.runner.clone())
        try:
            if x.dtype is U8 and x.shape in ONE_IMAGE:  # `is`: the fast test, for the usual dtype
                return slot.u8(x)
            return self._predict_other(slot, x)
        finally:
            idle.append(slot)

    def classify(self, images, top_k: int = 1) -> list[list[Prediction]]:
        """The ``top_k`` most likely classes of each image, best first."""
        probabilities = self.predict(images)
        k = max(1, min(int(top_k), probabilities.shape[1]))
        order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
        return [[Prediction(self.labels[i], int(i), float(p[i])) for i in row]
                for p, row in zip(probabilities, order)]

    def describe(self) -> dict:
        """What is loaded: file, format, quantization, backend, delegate, input dtype."""
        return {"file": self.file, "format": format_of(self.file),
                "quantization": (self.entry or {}).get("quantization"), "backend": self.backend,
                "delegate": self.runner.delegate, "input_dtype": self.runner.input_dtype.name,
                "verified": bool(self.entry), "amx": amx_policy.status().note,
                **({"choice": self.choice} if self.choice else {})}

    def _predict_other(self, slot: _Slot, x: np.ndarray) -> np.ndarray:
        """One float image (or a uint8 one of an equal but not identical dtype), or a batch."""
        runner = slot.runner
        if x.shape in ONE_IMAGE:
            if x.dtype == np.uint8:
                return slot.u8(x)
            runner.one[...] = self._prepare_float(x).reshape(runner.one.shape)
            return self._post(runner.run_one())
        if not (x.ndim == 3 and x.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE) or
                x.ndim == 4 and x.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE, 1)):
            raise InputError(f"expected images shaped (28, 28), (N, 28, 28) or (N, 28, 28, 1), "
                             f"got an array shaped {x.shape}")
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        x = x.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        quant = self.runner.input_quant
        if x.dtype == np.uint8:
            prepared = (quantize_images(x, quant) if quant else
                        np.multiply(x, np.float32(self.scale), dtype=np.float32))
        else:
            prepared = self._prepare_float(x)
        return self._checked_batch(self._post(runner.run_batch(prepared)))

    def _prepare_float(self, x: np.ndarray) -> np.ndarray:
        """Checked float x/255 input → the model's input dtype."""
        if x.dtype.kind != "f":
            raise InputError(f"expected uint8 pixels (0..255) or float images scaled to [0, 1], "
                             f"got dtype {x.dtype}")
        if not np.isfinite(x).all():
            raise InputError("images contain NaN or infinity")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise InputError(f"float images must be scaled to [0, 1] (pixels / 255); got values "
                             f"from {low:g} to {high:g}")
        quant = self.runner.input_quant
        return x.astype(np.float32, copy=False) if quant is None else quantize(x, quant)

    def _probed(self) -> "Classifier":
        """Refuse a model that does not return probabilities for a black, a white and a ramp image."""
        size = (IMAGE_SIZE, IMAGE_SIZE)
        ramp = np.linspace(0, 255, IMAGE_SIZE * IMAGE_SIZE).astype(np.uint8).reshape(size)
        probes = (np.zeros(size, np.uint8), np.full(size, 255, np.uint8), ramp)
        try:
            self._checked_batch(np.concatenate([self.predict(image) for image in probes]))
        except FmnistError:
            raise
        except Exception as exc:  # the engine's own (ORT's are not RuntimeErrors), damaged graph
            raise FmnistError(f"{self.file}: the model failed on a probe image "
                              f"({first_line(exc)})") from None
        return self

    def _slot(self, runner) -> _Slot:
        """``runner`` with its batch-1 uint8 call: prepare into its input, run, post-process."""
        one, quant = runner.one, runner.input_quant
        targets = {shape: one.reshape(shape) for shape in ONE_IMAGE}
        if quant is not None and is_pixel_shift(quant):
            # int8 input = pixel - 128 = pixel XOR 0x80, bit for bit
            targets = {shape: view.view(np.uint8) for shape, view in targets.items()}
            prepare, operand = np.bitwise_xor, np.uint8(0x80)
        elif quant is not None:
            def prepare(x, params, out):
                out[...] = quantize_images(x, params).reshape(out.shape)
            operand = quant
        else:
            prepare, operand = np.multiply, np.float32(self.scale)
        return _Slot(runner, runner.bind_one(prepare, operand, targets, self._post))

    def _postprocessor(self):
        """Raw output → a new float32 array of probabilities, checked where it can go wrong.

        Quantized outputs go through a 256-entry table, indexed by the raw int8 codes (``take``
        wraps -128..-1 to 128..255, their uint8 bit patterns), whose every entry is a probability
        (checked at load). Float outputs are checked on every call: NaN, ∞, a negative value or
        a sum away from 1 raises OutputError instead of returning an argmax of garbage.
        """
        quant = self.runner.output_quant
        if quant is not None:
            codes = np.arange(256, dtype=np.uint8)
            table = dequantize(codes.view(np.int8) if quant.dtype == "int8" else codes, quant)
            if not (np.isfinite(table).all() and table.min() >= 0 and table.max() <= 1):
                raise FmnistError(f"{self.file}: output quantization (scale {quant.scale:g}, zero "
                                  f"point {quant.zero_point}) does not map to probabilities in [0, 1]")
            return table.take

        def post(raw):  # the runners return new arrays: nothing to copy
            if len(raw) == 1:  # batch 1: a Python sum of 10 floats is ~0.3 µs, numpy's ~0.6 µs
                row = raw[0].tolist()
                if not (abs(sum(row) - 1) <= SUM_TOLERANCE and min(row) >= 0):
                    raise OutputError(f"{self.file}: the model returned {row}, not probabilities")
            return raw
        return post

    def _checked_batch(self, p: np.ndarray) -> np.ndarray:
        bad = ~(np.isfinite(p).all(axis=1) & (p >= 0).all(axis=1)
                & (np.abs(p.sum(axis=1) - 1) <= SUM_TOLERANCE))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise OutputError(f"{self.file}: the model returned {p[i].tolist()} for image {i}, "
                              "not probabilities")
        return p


def _read_model(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FmnistError(f"{path}: no such model file") from None
    except OSError as exc:
        raise FmnistError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise FmnistError(f"{path}: empty file, not a model")
    return data


def _check_io(runner, path: str, classes: int) -> None:
    """One 28×28×1 image in (NHWC, or NCHW with C=1), one score per label out."""
    dims = [abs(d) for d in runner.input_shape[1:]]
    if len(runner.input_shape) != 4 or sorted(dims) != [1, IMAGE_SIZE, IMAGE_SIZE] or dims[1] != IMAGE_SIZE:
        raise FmnistError(f"{path}: model input is {runner.input_shape}, expected "
                          "[N, 28, 28, 1] (a Fashion-MNIST image)")
    out = list(runner.output_shape)
    if len(out) != 2 or out[1] != classes or out[0] not in (1, -1):
        raise FmnistError(f"{path}: model output is {out}, expected [N, {classes}] "
                          f"({classes} class probabilities)")


def _facts(entry: dict | None, manifest: dict | None, runner) -> tuple[tuple[str, ...], float]:
    """Labels and input scale: the manifest entry, the manifest, ONNX metadata, then the dataset's."""
    metadata = getattr(runner, "metadata", {}) or {}
    labels = ((entry or {}).get("labels") or (manifest or {}).get("labels")
              or _metadata_json(metadata, "labels", runner) or CLASS_NAMES)
    pre = ((entry or {}).get("preprocessing") or (manifest or {}).get("preprocessing")
           or _metadata_json(metadata, "preprocessing", runner) or {})
    scale = pre.get("scale", INPUT_SCALE) if isinstance(pre, dict) else None
    if not (isinstance(labels, (list, tuple)) and labels and all(isinstance(x, str) for x in labels)):
        raise FmnistError(f"{runner.source}: labels must be a list of class names, got {labels!r:.80}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
        raise FmnistError(f"{runner.source}: preprocessing scale must be a positive number, "
                          f"got {scale!r:.80}")
    return tuple(labels), float(scale)


def _metadata_json(metadata: dict, key: str, runner):
    """A JSON value the exporter put in the ONNX metadata, or a one-line error if it is damaged."""
    if key not in metadata:
        return None
    try:
        return json.loads(metadata[key])
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError of damaged bytes
        raise FmnistError(f"{runner.source}: unreadable {key!r} in the ONNX metadata "
                          f"({first_line(exc, 120)})") from None
