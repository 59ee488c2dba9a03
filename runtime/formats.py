"""The table of formats: every format/quantization pair fmnist-edge writes, and what runs it.

One row of ``VARIANTS`` is one pair (``tflite int8``); the format it belongs to (file suffix,
converter, engines) and each engine (its runtime module, pip distribution and extra) are rows of
``FORMATS`` and ``ENGINES``, so no fact is written twice. Adding a format touches this file,
one converter file in ``export/`` (``<name>_export.py`` with ``convert(job) -> dict``) and one
backend file here (``backend_<engine>.py`` with ``check()`` and ``open_model(bytes, source,
threads)``). Every CLI takes its choices from these Enums.

Rows are NamedTuples (immutable, like the frozen dataclasses of configs): a frozen dataclass
costs ~0.4 ms to create on Python 3.11 (six generated methods, each compiled), and
fmnist-predict's first answer imports seven such records; as NamedTuples its median fell 3.6 ms
(96.4 → 92.8 ms, AMD EPYC, docs/runtime.md).
"""

from __future__ import annotations

import os
from enum import Enum
from typing import NamedTuple

from .errors import FmnistError, MissingExtraError


class Choice(str, Enum):
    """A str Enum that prints as its value (``f"{Format.ONNX}"`` is ``onnx`` on every Python)."""

    def __str__(self) -> str:
        return self.value


class Format(Choice):
    """Model file formats."""

    TFLITE = "tflite"
    ONNX = "onnx"


class Quantization(Choice):
    """Numeric formats; NONE keeps float32 weights and activations."""

    NONE = "none"
    FLOAT16 = "float16"  # weights stored as float16, computed in float32
    DYNAMIC = "dynamic"  # int8 weights, float activations, no calibration
    INT8 = "int8"  # int8 weights and activations, calibrated; int8 input/output on TFLite
    # int8 like INT8, except the first convolution stays float32 (float input/output): on x86,
    # XNNPACK's int8 3×3 conv over a one-channel image costs 4.7× its float version (make layers)
    MIXED = "mixed"
    # int8 with the fewest layers in float that keep the validation drop within --max-drop
    # (fmnist-export's accuracy-aware fallback; float input/output, like mixed)
    AUTO = "auto"

    @property
    def label(self) -> str:
        """The name people read: ``float32`` for NONE, else the value."""
        return "float32" if self is Quantization.NONE else self.value


class Backend(Choice):
    """Inference engines the runtime can drive; AUTO picks by file type."""

    AUTO = "auto"
    LITERT = "litert"  # ai-edge-litert, the maintained TFLite runtime
    TFLITE_RUNTIME = "tflite-runtime"  # legacy fallback, NumPy < 2 only
    ONNXRUNTIME = "onnxruntime"
    # this package's own TFLite reader and ops on NumPy: no wheel to install, the slowest
    NUMPY = "numpy"


class Engine(NamedTuple):
    """One inference engine: the runtime module that drives it and what installs it."""

    backend: Backend
    format: Format
    module: str  # fmnist_edge.runtime.<module>: check() and open_model(bytes, source, threads)
    distribution: str  # the pip distribution fmnist-doctor reports the version of
    extra: str  # pip install 'fmnist-edge[<extra>]'; "" = the core install has it
    # the last resort: auto loads a format on it only when no format has another engine here
    fallback: bool = False

    def missing(self) -> MissingExtraError:
        """The one-line error for this engine's library not being installed."""
        return MissingExtraError(self.distribution, self.extra)


class FileFormat(NamedTuple):
    """One file format: its suffix, its converter and the engines that run it, in ``auto`` order."""

    format: Format
    suffix: str
    converter: str  # fmnist_edge.export.<converter>: convert(job) -> manifest facts
    backends: tuple[Backend, ...]


class Variant(NamedTuple):
    """One format/quantization pair: one file of an export folder."""

    format: Format
    quantization: Quantization
    integer_only: bool  # int8 input and output tensors (the runtime quantizes pixels itself)
    calibrated: bool  # needs calibration images

    @property
    def file_name(self) -> str:
        """``model_int8.tflite``, ``model_float32.onnx``, …"""
        return f"model_{self.quantization.label}{FORMATS[self.format].suffix}"

    @property
    def name(self) -> str:
        """``tflite int8``, ``onnx float32``, … as reports print it."""
        return f"{self.format.value} {self.quantization.label}"


ENGINES = {e.backend: e for e in (
    Engine(Backend.LITERT, Format.TFLITE, "backend_litert", "ai-edge-litert", "litert"),
    Engine(Backend.TFLITE_RUNTIME, Format.TFLITE, "backend_tflite_runtime", "tflite-runtime",
           "tflite-runtime"),
    Engine(Backend.ONNXRUNTIME, Format.ONNX, "backend_onnx", "onnxruntime", "onnx"),
    Engine(Backend.NUMPY, Format.TFLITE, "backend_numpy", "numpy", "", fallback=True),
)}
FORMATS = {f.format: f for f in (
    # ai-edge-litert first; tflite-runtime only as the fallback of old NumPy < 2 set-ups; the
    # numpy engine where neither installs (32-bit Raspberry Pi OS)
    FileFormat(Format.TFLITE, ".tflite", "tflite_export",
               (Backend.LITERT, Backend.TFLITE_RUNTIME, Backend.NUMPY)),
    FileFormat(Format.ONNX, ".onnx", "onnx_export", (Backend.ONNXRUNTIME,)),
)}
_Q = Quantization
VARIANTS = tuple(Variant(f, q, integer_only, calibrated) for f, q, integer_only, calibrated in (
    (Format.TFLITE, _Q.NONE, False, False),
    (Format.TFLITE, _Q.FLOAT16, False, False),
    (Format.TFLITE, _Q.DYNAMIC, False, False),
    (Format.TFLITE, _Q.INT8, True, True),
    (Format.TFLITE, _Q.MIXED, False, True),
    (Format.TFLITE, _Q.AUTO, False, True),
    # ONNX Runtime's QDQ int8 takes float input and quantizes inside the graph; its dynamic
    # quantization is a known accuracy trap for CNNs, and float16 ONNX is not offered.
    (Format.ONNX, _Q.NONE, False, False),
    (Format.ONNX, _Q.INT8, False, True),
    (Format.ONNX, _Q.AUTO, False, True),
))


def variant(fmt: str | Format, quantization: str | Quantization) -> Variant:
    """The row of one pair; FmnistError for a pair the table does not have."""
    for row in VARIANTS:
        if row.format == fmt and row.quantization == quantization:
            return row
    raise FmnistError(f"no {fmt} {quantization} model: {fmt} supports "
                      f"{', '.join(q.value for q in supported(fmt))}")


def supported(fmt: str | Format) -> tuple[Quantization, ...]:
    """The quantizations ``fmt`` is written in, in table order."""
    return tuple(row.quantization for row in VARIANTS if row.format == fmt)


def quantization_label(value: str) -> str:
    """``float32`` for ``none``; any other recorded quantization (or ``predict``) as it is."""
    try:
        return Quantization(value).label
    except ValueError:
        return value


def format_of(path: str | os.PathLike) -> Format:
    """The format from a file's suffix; a one-line error for anything else."""
    suffix = os.path.splitext(path)[1].lower()
    for row in FORMATS.values():
        if suffix == row.suffix:
            return row.format
    kinds = " or ".join(row.suffix for row in FORMATS.values())
    raise FmnistError(f"{path}: unknown model type (expected a {kinds} file, "
                      "or an export folder with manifest.json)")
