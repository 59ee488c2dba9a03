"""Keras → ONNX (opset 17) via tf2onnx on a fixed-signature tf.function; int8 via ORT static QDQ.

int8: ``quant_pre_process`` (shape inference + graph optimizations), then ``quantize_static``
with QDQ nodes, per-channel int8 weights and uint8 (default) or int8 activations, calibrated on
the shared calibration sample. Labels, preprocessing and the source hash go into metadata_props.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import first_line

from .config import Conversion, OnnxActivations, Quantization
from .errors import ExportError
from .source import serving_function

MAX_ABS_DIFF = 1e-4  # float ONNX vs Keras on probabilities; measured ~1e-7 on the tutorial CNN


def convert(job: Conversion) -> dict:
    """The pipeline's converter call: labels, preprocessing and source hash go into the metadata."""
    from fmnist_edge.runtime.labels import CLASS_NAMES

    from .manifest import PREPROCESSING

    quantization = job.variant.quantization
    metadata = {"labels": list(CLASS_NAMES), "preprocessing": PREPROCESSING,
                "source_sha256": job.source.sha256, "producer": "fmnist-edge",
                "quantization": quantization.value}
    return export_onnx(job.source.model, quantization, job.calibration, job.target, metadata,
                       job.config.onnx_activations, job.config.opset)


def export_onnx(model, quantization: Quantization, calibration: np.ndarray, target: Path,
                metadata: dict, activations: OnnxActivations = OnnxActivations.UINT8,
                opset: int = 17) -> dict:
    """Write ``target`` atomically; return facts for the manifest (e.g. float max abs diff)."""
    import onnx

    float_model = _convert(model, opset)
    facts = {"opset": opset, "max_abs_diff_vs_keras": _compare(float_model, model, calibration)}
    if facts["max_abs_diff_vs_keras"] > MAX_ABS_DIFF:
        raise ExportError(f"float ONNX differs from Keras by {facts['max_abs_diff_vs_keras']:.2e} "
                          f"(> {MAX_ABS_DIFF}); refusing to write {target.name}")
    if quantization is Quantization.INT8:
        float_model = _quantize(float_model, calibration, activations)
        facts["activations"] = activations.value
    for key, value in metadata.items():
        entry = float_model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    atomic.write_bytes(target, float_model.SerializeToString())
    onnx.checker.check_model(str(target))
    return facts


def _convert(model, opset: int):
    import tf2onnx

    function = serving_function(model)
    try:
        proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature,
                                                 opset=opset)
    except Exception as exc:
        raise ExportError(f"tf2onnx conversion failed: {first_line(exc)}") from None
    _rename_output(proto, "probabilities")
    return proto


def _rename_output(proto, new: str) -> None:
    """tf2onnx names the output ``Identity:0``; give it a name a reader understands."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
    proto.graph.output[0].name = new


def _compare(proto, model, batch: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: batch[:256]})[0]
    keras_out = np.asarray(model(batch[:256], training=False))
    return float(np.max(np.abs(onnx_out - keras_out)))


def _quantize(proto, calibration: np.ndarray, activations: OnnxActivations):
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    act = QuantType.QUInt8 if activations is OnnxActivations.UINT8 else QuantType.QInt8
    with tempfile.TemporaryDirectory(prefix="fmnist-onnx-") as tmp:
        raw, pre, out = (Path(tmp) / n for n in ("float.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(proto, raw)
        try:
            quant_pre_process(str(raw), str(pre))
            quantize_static(str(pre), str(out), _Reader(calibration, proto.graph.input[0].name),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=act, weight_type=QuantType.QInt8)
        except Exception as exc:
            raise ExportError(f"ONNX int8 quantization failed: {first_line(exc)}") from None
        return onnx.load(out)


class _Reader:
    """ORT CalibrationDataReader over the shared calibration sample, 50 images per batch."""

    def __init__(self, calibration: np.ndarray, input_name: str) -> None:
        self._batches = iter([{input_name: calibration[i:i + 50]}
                              for i in range(0, len(calibration), 50)])

    def get_next(self):
        return next(self._batches, None)

    def rewind(self):  # part of the CalibrationDataReader protocol; not needed for one pass
        pass
