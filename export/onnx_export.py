"""Keras → ONNX (opset 17) via tf2onnx on a fixed-signature tf.function; int8 via ORT static QDQ.

int8: ``quant_pre_process`` (shape inference + graph optimizations), then ``quantize_static``
with QDQ nodes, per-channel int8 weights and uint8 (default) or int8 activations, calibrated on
the shared calibration sample. Labels, preprocessing and the source hash go into metadata_props.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np

from fmnist_edge.runtime import atomic
from fmnist_edge.runtime.errors import first_line

from . import onnx_debug
from .config import (Calibration, CalibrationMethod, Conversion, OnnxActivations, OnnxWeights,
                     Quantization)
from .errors import ExportError
from .int8 import calibrated
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
    if not job.variant.calibrated:
        return export_onnx(job.source.convertible, quantization, job.calibration, job.target, metadata,
                           job.config.onnx_activations, job.config.opset)
    builder = _Builder(job)
    model, facts = calibrated(job, builder)
    proto = _with_metadata(onnx_load(model), metadata)
    atomic.write_bytes(job.target, proto.SerializeToString())
    _check(job.target)
    return {**builder.facts, "activations": job.config.onnx_activations.value,
            "weights": job.config.onnx_weights.value, **facts}


def export_onnx(model, quantization: Quantization, calibration: np.ndarray, target: Path,
                metadata: dict, activations: OnnxActivations = OnnxActivations.UINT8,
                opset: int = 17) -> dict:
    """Write the float32 (or int8, default calibration) ``target`` atomically; return its facts."""
    float_model, facts = _checked_float(model, calibration, opset, target.name)
    if quantization is Quantization.INT8:
        float_model = _quantize(float_model, calibration, activations)
        facts["activations"] = activations.value
    atomic.write_bytes(target, _with_metadata(float_model, metadata).SerializeToString())
    _check(target)
    return facts


def _checked_float(model, calibration: np.ndarray, opset: int, name: str):
    float_model = _convert(model, opset)
    facts = {"opset": opset, "max_abs_diff_vs_keras": _compare(float_model, model, calibration)}
    if facts["max_abs_diff_vs_keras"] > MAX_ABS_DIFF:
        raise ExportError(f"float ONNX differs from Keras by {facts['max_abs_diff_vs_keras']:.2e} "
                          f"(> {MAX_ABS_DIFF}); refusing to write {name}")
    return float_model, facts


def _with_metadata(proto, metadata: dict):
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    return proto


def _check(target: Path) -> None:
    import onnx

    onnx.checker.check_model(str(target))


def onnx_load(model: bytes):
    """An ONNX ModelProto from bytes."""
    import onnx

    return onnx.load_from_string(model)


class _Builder:
    """ONNX's half of export.int8: static QDQ quantizations of one pre-processed float model."""

    own_int8 = False  # float input/output for every variant: the debugged model is the file

    def __init__(self, job: Conversion) -> None:
        self.job = job
        memo = job.memo
        if "onnx-pre" not in memo:
            float_model, facts = _checked_float(job.source.convertible, job.calibration,
                                                job.config.opset, job.target.name)
            memo["onnx-pre"] = _pre_process(float_model, job.scratch)
            memo["onnx-facts"] = facts
            memo["onnx-layers"] = job.source.layer_names
        self.pre, self.facts, self.layer_names = memo["onnx-pre"], memo["onnx-facts"], memo["onnx-layers"]
        self.nodes = onnx_debug.layer_nodes(onnx_load(self.pre.read_bytes()), self.layer_names)

    def plain(self, setting: Calibration, float_layers: list[str], quantization=None) -> bytes:
        excluded = [n for layer in float_layers for n in self.nodes.get(layer, [])]
        return _quantize_static(self.pre, self.job.pool.sample(setting.samples), setting,
                                self.job.config.onnx_activations, excluded,
                                self.job.config.onnx_weights)

    def debug(self, setting: Calibration, float_layers: list[str]) -> tuple[bytes, dict]:
        model = self.plain(setting, float_layers)
        job, sample = self.job, self.job.validation.debug_sample()
        if "onnx-float-activations" not in job.memo:
            job.memo["onnx-float-activations"] = onnx_debug.float_activations(self.pre, sample,
                                                                              job.scratch)
        qdq = job.scratch / "debug-qdq.onnx"
        atomic.write_bytes(qdq, model)
        error = onnx_debug.layer_error(onnx_load(self.pre.read_bytes()), qdq, sample,
                                       job.memo["onnx-float-activations"], job.scratch,
                                       self.layer_names, float_layers)
        return model, error


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
    """int8 with the default calibration (min/max, per-channel): what fmnist-doctor's bundle uses."""
    with tempfile.TemporaryDirectory(prefix="fmnist-onnx-") as tmp:
        pre = _pre_process(proto, Path(tmp))
        return onnx_load(_quantize_static(pre, calibration, Calibration(), activations, []))


def _pre_process(proto, folder: Path) -> Path:
    """``quant_pre_process`` (shape inference, graph optimizations) into ``folder``/pre.onnx."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    raw, pre = folder / "float.onnx", folder / "pre.onnx"
    onnx.save(proto, raw)
    try:
        quant_pre_process(str(raw), str(pre))
    except Exception as exc:
        raise ExportError(f"ONNX int8 pre-processing failed: {first_line(exc)}") from None
    return pre


# TensorRT's entropy calibration: 2,048 histogram bins searched for the 128-bin window with the
# least KL divergence. quantize_static never forwards these, and its defaults (128 bins, 128
# quantized bins) leave the search one candidate, the full range: Entropy was exactly MinMax
# (every row of the quant-demo calibration table, ORT 1.32), so its ranges are computed here.
ENTROPY_BINS, ENTROPY_QUANTIZED_BINS = 2048, 128
# Weights in 7 bits by default (OnnxWeights.INT7, ORT's reduce_range): on x86 without VNNI (the
# AVX2-only EPYC VM, 2026-12-03) ORT's U8S8 kernels sum u8×s8 pairs in saturating int16
# (VPMADDUBSW), so full-range int8 weights overflow: 82 of 10,000 test predictions differed from
# the model's own QDQ arithmetic (ORT with graph optimizations off; max Δp 0.52), and 9 of 1,000
# from a Pi, whose kernels are exact. With 7 bits: 0 differ, max Δp 0.004 (one output step).


def _quantize_static(pre: Path, calibration: np.ndarray, setting: Calibration,
                     activations: OnnxActivations, exclude: list[str],
                     weights: OnnxWeights = OnnxWeights.INT7) -> bytes:
    """Static QDQ int8 of the pre-processed model ``pre``, the nodes in ``exclude`` left float."""
    from onnxruntime.quantization import CalibrationMethod as Method
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    act = QuantType.QUInt8 if activations is OnnxActivations.UINT8 else QuantType.QInt8
    method = setting.method
    extra = {"CalibPercentile": method.percentile} if method.percentile else {}
    ort_method = Method.Percentile if method.percentile else (
        Method.Entropy if method is CalibrationMethod.ENTROPY else Method.MinMax)
    with tempfile.TemporaryDirectory(prefix="fmnist-onnx-") as tmp:
        out = Path(tmp) / "int8.onnx"
        cache = _entropy_ranges(pre, calibration, Path(tmp)) if ort_method is Method.Entropy else None
        try:  # its calibrators print progress to stdout: kept off fmnist-export's output
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(str(pre), str(out), _Reader(calibration, _input_name(pre)),
                                quant_format=QuantFormat.QDQ, per_channel=setting.per_channel,
                                activation_type=act, reduce_range=weights.reduce_range,
                                weight_type=QuantType.QUInt8 if weights is OnnxWeights.UINT8
                                else QuantType.QInt8,
                                calibrate_method=ort_method, nodes_to_exclude=exclude,
                                extra_options=extra, calibration_cache_path=cache)
        except Exception as exc:
            raise ExportError(f"ONNX int8 quantization failed: {first_line(exc)}") from None
        return out.read_bytes()


def _entropy_ranges(pre: Path, calibration: np.ndarray, folder: Path) -> Path:
    """Entropy (KL) activation ranges with ENTROPY_BINS, as quantize_static's calibration cache."""
    from onnxruntime.quantization.calibrate import (CalibrationMethod, create_calibrator,
                                                    save_tensors_data)

    with contextlib.redirect_stdout(io.StringIO()):
        calibrator = create_calibrator(
            pre, augmented_model_path=str(folder / "entropy-augmented.onnx"),
            calibrate_method=CalibrationMethod.Entropy,
            extra_options={"num_bins": ENTROPY_BINS, "num_quantized_bins": ENTROPY_QUANTIZED_BINS})
        calibrator.collect_data(_Reader(calibration, _input_name(pre)))
        ranges = calibrator.compute_data()
    cache = folder / "entropy-ranges.json"
    save_tensors_data(ranges, cache)
    return cache


def _input_name(path: Path) -> str:
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.input[0].name


class _Reader:
    """ORT CalibrationDataReader over the shared calibration sample, 50 images per batch."""

    def __init__(self, calibration: np.ndarray, input_name: str) -> None:
        self._batches = iter([{input_name: calibration[i:i + 50]}
                              for i in range(0, len(calibration), 50)])

    def get_next(self):
        return next(self._batches, None)

    def rewind(self):  # part of the CalibrationDataReader protocol; not needed for one pass
        pass
