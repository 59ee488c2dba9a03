"""The error each layer of a dynamic-range (weight-only int8) TFLite file adds, per Keras layer.

A dynamic-range file keeps float activations and stores weights as int8, so it has no
calibration and TensorFlow's QuantizationDebugger (which the calibrated files use) does not apply.
Its error is measured the way ONNX's is (see onnx_debug): the float32 and the dynamic-range file
run on the same validation images with every tensor kept (LiteRT's reference kernels, no
XNNPACK, which reuses buffers), each op's output is compared with the float32 file's, and a
layer is ranked by the error it adds (its output's relative noise minus its input's). Ops are
matched by their output tensor's name and shape: the converter names both files' ops after the
Keras layers, and only weights change. Weight tensors under 1,024 values stay float in a
dynamic-range file (the tutorial CNN's 288-weight convolution): such a layer adds nothing (200 dB).
"""

from __future__ import annotations

import numpy as np

from .layer_error import added_db, layer_of, ranked, sqnr_db

METHOD = "activations of the float32 and the dynamic-range file (LiteRT reference kernels)"
BATCH = 100


def dynamic_error(float_model: bytes, dynamic_model: bytes, sample: np.ndarray, layer_names) -> dict:
    """Ranked per-layer error of ``dynamic_model`` against ``float_model`` on ``sample`` (x/255 NHWC)."""
    reference, measured = _Outputs(float_model), _Outputs(dynamic_model)
    common = [name for name in measured.names if name in reference.names]
    signal = dict.fromkeys(common, 0.0)
    noise = dict.fromkeys(common, 0.0)
    for start in range(0, len(sample), BATCH):
        batch = sample[start:start + BATCH]
        want, got = reference.run(batch), measured.run(batch)
        for name in common:
            if want[name].shape != got[name].shape:
                continue
            a, b = want[name].astype(np.float64), got[name].astype(np.float64)
            signal[name] += float(np.sum(a * a))
            noise[name] += float(np.sum((a - b) ** 2))
    sqnr = {name: sqnr_db(signal[name], noise[name]) for name in common}
    rows = []
    for name, op, source in measured.ops:
        layer = layer_of(name, layer_names)
        if layer is None or name not in sqnr:
            continue
        added = added_db(sqnr[name], sqnr.get(source, 200.0))
        rows.append({"layer": layer, "tensor": name, "op": op, "sqnr_db": round(sqnr[name], 2),
                     "added_db": round(added, 2), "rank_db": round(added, 2)})
    order = list(dict.fromkeys(r["layer"] for r in rows))
    return {"format": "tflite", "method": METHOD, "images": int(len(sample)), "from": "validation split",
            "float_layers": [], "order": order, "layers": ranked(rows)}


class _Outputs:
    """One TFLite model with every op output kept: (name, op, data input's name) in run order."""

    def __init__(self, model: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.interpreter = Interpreter(
            model_content=model, experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        tensors = {t["index"]: t for t in self.interpreter.get_tensor_details()}
        outputs = [(op, i) for op in self.interpreter._get_ops_details() for i in op["outputs"]]
        counts: dict[str, int] = {}
        for _, i in outputs:
            counts[tensors[i]["name"]] = counts.get(tensors[i]["name"], 0) + 1
        produced = {i for _, i in outputs}
        self.index = {tensors[i]["name"]: i for _, i in outputs if counts[tensors[i]["name"]] == 1
                      and tensors[i]["dtype"] == np.float32}
        self.names = set(self.index)
        # each op's data input: its first input that an op produced (else the graph input)
        self.ops = [(tensors[i]["name"], op["op_name"],
                     next((tensors[j]["name"] for j in op["inputs"] if j in produced), None))
                    for op, i in outputs if tensors[i]["name"] in self.index]
        self.input = self.interpreter.get_input_details()[0]["index"]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.interpreter.resize_tensor_input(self.input, list(batch.shape))
        self.interpreter.allocate_tensors()
        self.interpreter.set_tensor(self.input, batch.astype(np.float32))
        self.interpreter.invoke()
        return {name: self.interpreter.get_tensor(i) for name, i in self.index.items()}
