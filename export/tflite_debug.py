"""TFLite int8 with chosen Keras layers kept in float, and the error each quantized layer adds.

Both come from TensorFlow's ``QuantizationDebugger``: it calibrates the converter, quantizes with
``denylisted_nodes`` (the output tensors of the float layers) and instruments every quantized op
with a NumericVerify op that holds (float op on the same dequantized inputs) − (int8 op). So the
figures are layer-wise: the error a layer adds, not the error it inherits.

Its float-side tensors are not preserved under XNNPACK (read back as NaN or 1e20 for the first
convolution here), so the signal power is taken from the dequantized int8 output instead; the two
differ by the noise, under 0.1 dB above 16 dB SQNR.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.errors import FmnistError

from .layer_error import layer_of, ranked, sqnr_db

METHOD = "tf.lite.experimental.QuantizationDebugger (layer-wise, NumericVerify)"


def representative(calibration: np.ndarray):
    """A representative-dataset generator: one image per step (per-tensor ranges, batch 1)."""
    def generate():
        for i in range(len(calibration)):
            yield [calibration[i:i + 1]]

    return generate


def quantize_with_float_layers(converter, sample: np.ndarray,
                               float_layers: list[str], tensors: dict[str, list[str]],
                               run: bool = True, names: dict | None = None
                               ) -> tuple[bytes, dict | None]:
    """int8 TFLite bytes (float input/output) with ``float_layers`` in float, and its layer error.

    ``converter``: a TFLiteConverter set up for calibrated int8 with float input/output;
    ``tensors``: :func:`layer_tensors` of the same SavedModel (Keras layer → its op outputs);
    ``run=False`` skips the measurement (the error is then None); ``names``: traced layer name →
    the user's (source.traced_copy), for naming the debugger's tensors.
    """
    import tensorflow as tf

    layer_names = list(tensors)
    # A layer folded into the next one's op (a Conv2D before BatchNormalization: the edge CNN's
    # conv1 has no op of its own, bn1's op computes both) has no tensors: the caller lists both.
    nodes = [t for layer in float_layers for t in tensors.get(layer, [])]
    if float_layers and not nodes:
        raise FmnistError(f"no TFLite op computes {', '.join(float_layers)}: cannot keep it in float")
    options = tf.lite.experimental.QuantizationDebugOptions(
        layer_direct_compare_metrics={"signal": _signal_power}, denylisted_nodes=nodes or None)
    with warnings.catch_warnings():  # the debugger uses the deprecated tf.lite.Interpreter
        warnings.simplefilter("ignore")
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative(sample), debug_options=options)
        flatbuffer = debugger.get_nondebug_quantized_model()
        if not run:
            return flatbuffer, None
        debugger.run()
    rows = _rows(debugger, names or layer_names)
    error = {"format": "tflite", "method": METHOD, "images": int(len(sample)),
             "from": "validation split", "float_layers": list(float_layers),
             "order": layer_names, "layers": ranked(rows)}
    return flatbuffer, error


def _signal_power(float_values, quantized, scale: float, zero_point: int) -> float:
    real = (quantized.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
    return float(np.mean(np.square(real)))


def _rows(debugger, layer_names) -> list[dict]:
    interpreter = debugger._quant_interpreter  # as the debugger's own layer_statistics_dump does
    rows = []
    for name, stats in debugger.layer_statistics.items():
        index = debugger._numeric_verify_op_details[name]["inputs"][0]
        op = interpreter._get_op_details(debugger._defining_op[index])
        detail = interpreter._get_tensor_details(index, subgraph_index=0)
        scale = float(detail["quantization_parameters"]["scales"][0])
        layer = layer_of(detail["name"], layer_names) or _input_layer(interpreter, op, layer_names)
        mse = float(stats["mean_squared_error"])
        sqnr = round(sqnr_db(float(stats["signal"]), mse), 2)
        rows.append({"layer": layer or op["op_name"].lower(), "tensor": detail["name"],
                     "op": op["op_name"], "sqnr_db": sqnr, "rank_db": sqnr,
                     "rmse_scale": round(math.sqrt(mse) / scale, 4) if scale else float("nan"),
                     "scale": scale})
    return rows


def _input_layer(interpreter, op: dict, layer_names) -> str | None:
    """A tensor without a layer in its name (the softmax output) belongs to its input's layer."""
    for index in op["inputs"]:
        if index >= 0:
            name = interpreter._get_tensor_details(index, subgraph_index=0)["name"]
            if layer_of(name, layer_names):
                return layer_of(name, layer_names)
    return None


def layer_tensors(saved_model: Path, layer_names) -> dict[str, list[str]]:
    """Keras layer → the output tensor names of its ops in the float TFLite model (denylist keys).

    ``layer_names``: as :func:`~.layer_error.layer_of` takes them (a dict maps to the user's names).

    Only layers with ops appear, in the order the model runs them.
    """
    import tensorflow as tf

    from fmnist_edge.runtime.backend_litert import litert_interpreter_class

    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(str(saved_model)).convert()
    interpreter = litert_interpreter_class()(model_content=flatbuffer)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    found: dict[str, list[str]] = {}
    for op in interpreter._get_ops_details():
        out = names[op["outputs"][0]]
        layer = layer_of(out, layer_names) or next(
            (layer_of(names[i], layer_names) for i in op["inputs"]
             if i >= 0 and layer_of(names[i], layer_names)), None)
        if layer:
            found.setdefault(layer, []).append(out)
    return found
