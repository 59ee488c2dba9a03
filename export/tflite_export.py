"""Keras SavedModel → TFLite (float32, float16, dynamic-range or full-integer int8).

Only builtin ops are allowed (``TFLITE_BUILTINS`` / ``TFLITE_BUILTINS_INT8``), never
``SELECT_TF_OPS``: a model that would need Flex ops fails here, loudly, instead of producing a
file the TensorFlow-free runtime cannot load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import first_line
from fmnist_edge.runtime.quiet import native_stderr_captured

from .config import Conversion, Quantization
from .errors import ExportError
from .source import export_saved_model


def convert(job: Conversion) -> dict:
    """The pipeline's converter call: one SavedModel (in ``job.scratch``) serves every variant."""
    saved = job.scratch / "saved_model"
    if not saved.exists():
        export_saved_model(job.source.model, saved)
    export_tflite(saved, job.variant.quantization, job.calibration, job.target)
    return {}


def export_tflite(saved_model: Path, quantization: Quantization, calibration: np.ndarray,
                  target: Path) -> None:
    """Convert ``saved_model`` with ``quantization`` and write ``target`` atomically."""
    converter = tflite_converter(saved_model, quantization, calibration)
    try:
        with native_stderr_captured():  # the converter logs MLIR passes to fd 2
            if quantization is Quantization.MIXED:
                flatbuffer = _mixed(converter, calibration, saved_model)
            else:
                flatbuffer = converter.convert()
    except Exception as exc:
        raise ExportError(f"TFLite {quantization.value} conversion failed (builtin ops only, "
                          f"Flex/SELECT_TF_OPS never enabled): {first_line(exc)}") from None
    atomic.write_bytes(target, flatbuffer)
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
    elif quantization is Quantization.MIXED:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(calibration)
    elif quantization is Quantization.INT8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def _mixed(converter, calibration: np.ndarray, saved_model: Path) -> bytes:
    """int8 everywhere but the first convolution, which is denylisted and stays float32."""
    import warnings

    import tensorflow as tf

    first_conv = _first_conv_output(saved_model)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=[first_conv])
    with warnings.catch_warnings():  # the debugger uses the deprecated tf.lite.Interpreter
        warnings.simplefilter("ignore")
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=_representative(calibration), debug_options=options)
        return debugger.get_nondebug_quantized_model()


def _first_conv_output(saved_model: Path) -> str:
    """The output tensor name of the first CONV_2D / DEPTHWISE_CONV_2D of the float model."""
    import tensorflow as tf

    from fmnist_edge.runtime.backend_litert import litert_interpreter_class

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    interpreter = litert_interpreter_class()(model_content=converter.convert())
    tensors = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            return tensors[op["outputs"][0]]
    raise ExportError("--quantize mixed keeps the first convolution in float, but the model has none")


def _representative(calibration: np.ndarray):
    def generate():
        for i in range(len(calibration)):  # one image per step: per-tensor ranges, batch 1
            yield [calibration[i:i + 1]]

    return generate


def _refuse_flex(path: Path) -> None:
    from fmnist_edge.runtime.backend_litert import open_model

    ops = open_model(path.read_bytes(), str(path)).op_names()
    flex = sorted({op for op in ops if op.lower().startswith("flex")})
    if flex:
        path.unlink()
        raise ExportError(f"TFLite model needs TensorFlow Flex ops {flex}; refusing to write it")
