"""Keras SavedModel → TFLite (float32, float16, dynamic-range or full-integer int8).

Only builtin ops are allowed (``TFLITE_BUILTINS`` / ``TFLITE_BUILTINS_INT8``), never
``SELECT_TF_OPS``: a model that would need Flex ops fails here, loudly, instead of producing a
file the TensorFlow-free runtime cannot load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import FmnistError, first_line
from fmnist_edge.runtime.quiet import native_stderr_captured

from .config import Calibration, Conversion, Quantization
from .errors import ExportError
from .int8 import calibrated
from .source import export_saved_model
from .tflite_debug import layer_tensors, quantize_with_float_layers, representative
from .weight_error import dynamic_error


def convert(job: Conversion) -> dict:
    """The pipeline's converter call: one SavedModel (in ``job.scratch``) serves every variant."""
    saved = job.scratch / "saved_model"
    if not saved.exists():
        export_saved_model(job.source.convertible, saved)
    quantization = job.variant.quantization
    if not job.variant.calibrated:
        export_tflite(saved, quantization, job.calibration, job.target)
        return _dynamic_error(job, saved) if quantization is Quantization.DYNAMIC else {}
    model, facts = calibrated(job, _Builder(job, saved))
    atomic.write_bytes(job.target, model)
    _refuse_flex(job.target)
    return facts


def _dynamic_error(job: Conversion, saved: Path) -> dict:
    """The dynamic-range file's per-layer error against float32 on the validation split (see
    weight_error); None, with the reason, when there is no split or the measurement fails."""
    if job.validation is None:
        return {"layer_error": None, "layer_error_note": "no validation split to measure it on"}
    key = "tflite-float32"
    if key not in job.memo:
        job.memo[key] = _convert(tflite_converter(saved, Quantization.NONE, job.calibration),
                                 Quantization.NONE)
    try:
        error = dynamic_error(job.memo[key], job.target.read_bytes(), job.validation.debug_sample(),
                              job.source.layer_names)
    except Exception as exc:  # a diagnostic: the file itself is fine, and checked on the test set
        return {"layer_error": None, "layer_error_note": f"not measured: {first_line(exc)}"}
    return {"layer_error": error}


class _Builder:
    """TFLite's half of export.int8: plain conversions and debugger runs of one SavedModel."""

    own_int8 = True  # the int8 file has int8 input/output: a conversion of its own, not the debugger's

    def __init__(self, job: Conversion, saved: Path) -> None:
        self.job, self.saved = job, saved
        key = "tflite-layer-tensors"
        if key not in job.memo:
            job.memo[key] = layer_tensors(saved, job.source.layer_names)
        self.tensors = job.memo[key]

    def plain(self, setting: Calibration, float_layers: list[str], quantization) -> bytes:
        calibration = self.job.pool.sample(setting.samples)
        if quantization is Quantization.INT8 and not float_layers:
            return _convert(tflite_converter(self.saved, quantization, calibration), quantization)
        sample = calibration[:1]  # the debugger wants a debug set; plain() never runs it
        return _guarded(lambda: quantize_with_float_layers(
            self._converter(calibration), sample, float_layers, self.tensors, run=False,
            names=self.job.source.layer_names)[0])

    def debug(self, setting: Calibration, float_layers: list[str]) -> tuple[bytes, dict]:
        calibration = self.job.pool.sample(setting.samples)
        sample = self.job.validation.debug_sample()
        return _guarded(lambda: quantize_with_float_layers(
            self._converter(calibration), sample, float_layers, self.tensors,
            names=self.job.source.layer_names))

    def _converter(self, calibration: np.ndarray):
        """Calibrated int8 with float input/output: the debugger's starting point."""
        return tflite_converter(self.saved, Quantization.MIXED, calibration)


def _guarded(call):
    try:
        with native_stderr_captured():  # the converter logs MLIR passes to fd 2
            return call()
    except FmnistError:
        raise
    except Exception as exc:
        raise ExportError(f"TFLite int8 conversion failed (builtin ops only): {first_line(exc)}") \
            from None


def _convert(converter, quantization: Quantization) -> bytes:
    try:
        with native_stderr_captured():
            return converter.convert()
    except Exception as exc:
        raise ExportError(f"TFLite {quantization.value} conversion failed (builtin ops only, "
                          f"Flex/SELECT_TF_OPS never enabled): {first_line(exc)}") from None


def export_tflite(saved_model: Path, quantization: Quantization, calibration: np.ndarray,
                  target: Path) -> None:
    """Convert ``saved_model`` with ``quantization`` (an uncalibrated one, or int8) atomically."""
    converter = tflite_converter(saved_model, quantization, calibration)
    atomic.write_bytes(target, _convert(converter, quantization))
    _refuse_flex(target)


def tflite_converter(saved_model: Path, quantization: Quantization, calibration: np.ndarray):
    """A ``TFLiteConverter`` set up for ``quantization`` (builtin ops only), not yet run.

    ``make layers`` converts each part of a CNN with it, so it times what the export writes.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is Quantization.FLOAT16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization is Quantization.DYNAMIC:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization in (Quantization.MIXED, Quantization.AUTO):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative(calibration)
    elif quantization is Quantization.INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def _refuse_flex(path: Path) -> None:
    from fmnist_edge.runtime.backend_litert import open_model

    ops = open_model(path.read_bytes(), str(path)).op_names()
    flex = sorted({op for op in ops if op.lower().startswith("flex")})
    if flex:
        path.unlink()
        raise ExportError(f"TFLite model needs TensorFlow Flex ops {flex}; refusing to write it")
