"""The numpy engine's shape, conversion, softmax and elementwise ops (see :mod:`.numpy_ops`).

Each builder takes (op, graph, source) and returns ``fn(*inputs) -> output``. Elementwise ops
are computed in float32 only: their int8 forms use fixed-point rescaling of two inputs that none
of the files fmnist-export writes needs, so an int8 ADD, MUL or MEAN is refused, by name.
"""

from __future__ import annotations

import numpy as np

from . import numpy_int8 as q8
from .numpy_ops import F32, I8, float_activation, unsupported
from .tflite_file import Graph, Op

U8 = np.dtype(np.uint8)


def _tensors(op: Op, graph: Graph):
    return [graph.tensors[i] for i in op.inputs if i >= 0], graph.tensors[op.outputs[0]]


def _float_only(op: Op, graph: Graph, source: str) -> None:
    ins, out = _tensors(op, graph)
    for t in (*ins[:1], out):
        if t.dtype != F32:
            raise unsupported(source, f"{t.dtype.name} {op.name}")


def _reshape(op: Op, graph: Graph, source: str):
    out = graph.tensors[op.outputs[0]]
    fixed = op.options.get("new_shape") or out.signature
    rest = tuple(out.signature[1:])
    if out.signature and all(d >= 0 for d in rest):
        # every dimension but the batch is fixed in the file: the shape input (a SHAPE →
        # STRIDED_SLICE → PACK chain that only carries the batch size) is not needed
        def reshape_rows(a, *_):
            return a.reshape((-1,) + rest)
        reshape_rows.inputs_used = 1
        return reshape_rows

    def reshape(a, shape=None):
        target = [int(d) for d in (shape if shape is not None else fixed)]
        if target and target[0] in (1, -1) and -1 not in target[1:] and len(a) != 1:
            target[0] = -1  # a batch-1 shape in the file, a batch here
        return a.reshape(target)
    return reshape


def _shape(op: Op, graph: Graph, source: str):
    dtype = graph.tensors[op.outputs[0]].dtype
    return lambda a: np.array(a.shape, dtype)


def _strided_slice(op: Op, graph: Graph, source: str):
    o = op.options
    if o["ellipsis_mask"] or o["new_axis_mask"] or o["offset"]:
        raise unsupported(source, "STRIDED_SLICE with ellipsis, new-axis or offset masks")

    def strided_slice(a, begin, end, strides):
        index = []
        for axis, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
            if o["shrink_axis_mask"] >> axis & 1:
                index.append(b)
                continue
            index.append(slice(None if o["begin_mask"] >> axis & 1 else b,
                               None if o["end_mask"] >> axis & 1 else e, s))
        return np.asarray(a[tuple(index)])
    return strided_slice


def _pack(op: Op, graph: Graph, source: str):
    axis, dtype = op.options["axis"], graph.tensors[op.outputs[0]].dtype
    return lambda *values: np.stack([np.asarray(v, dtype) for v in values], axis=axis)


def _softmax(op: Op, graph: Graph, source: str):
    (x, *_), out = _tensors(op, graph)
    beta = np.float32(op.options["beta"])
    if x.dtype == F32 and out.dtype == F32:
        def softmax(a):
            e = np.exp(beta * (a - a.max(axis=-1, keepdims=True)))
            return e / e.sum(axis=-1, keepdims=True)
        return softmax
    if not (x.dtype == out.dtype == I8 and x.quant is not None and out.quant is not None):
        raise unsupported(source, f"SOFTMAX from {x.dtype.name} to {out.dtype.name}")
    return _softmax_int8(float(x.quant.scale[0]), beta, float(out.quant.scale[0]),
                         int(out.quant.zero_point[0]))


def _softmax_int8(in_scale: float, beta, out_scale: float, zero_point: int):
    """TFLite's int8 softmax (optimized_ops::Softmax with PopulateSoftmaxLookupTable): a float
    table exp(−s·β·d) of the distance d from the row's largest code, summed in order in float32,
    each entry × 1 / (sum × output scale), rounded half away from zero, plus the zero point."""
    scale = np.float32(-np.float32(in_scale) * beta)
    # expf, correctly rounded: computed in float64, then rounded once to float32
    table = np.exp(np.float64(scale) * np.arange(256)).astype(F32)
    out_scale = np.float32(out_scale)

    def softmax(a):
        codes = a.astype(np.int32)
        e = table[codes.max(axis=-1, keepdims=True) - codes]
        total = np.cumsum(e, axis=-1, dtype=F32)[..., -1:]  # in order, as the kernel sums
        p = e * (np.float32(1) / (total * out_scale))
        rounded = np.trunc(p)  # std::round of p >= 0: trunc, + 1 from a fraction of .5 up
        rounded += p - rounded >= 0.5
        rounded += zero_point
        return np.minimum(rounded, q8.INT8_MAX).astype(I8)  # p >= 0: only the top can overflow
    return softmax


def _quantize(op: Op, graph: Graph, source: str):
    (x, *_), out = _tensors(op, graph)
    if x.dtype != F32 or out.dtype not in (I8, U8) or out.quant is None or out.quant.scale.size != 1:
        raise unsupported(source, f"QUANTIZE from {x.dtype.name} to {out.dtype.name}")
    scale, zero = float(out.quant.scale[0]), int(out.quant.zero_point[0])
    return lambda a: q8.quantize(a, scale, zero, out.dtype)


def _dequantize(op: Op, graph: Graph, source: str):
    (x, *_), out = _tensors(op, graph)
    if x.dtype == np.float16:
        return lambda a: a.astype(F32)
    if x.dtype not in (I8, U8) or x.quant is None:
        raise unsupported(source, f"DEQUANTIZE of {x.dtype.name}")
    shape = [1] * len(x.shape)
    if x.quant.scale.size > 1:
        shape[x.quant.axis] = -1
    scale = x.quant.scale.astype(np.float64).reshape(shape)  # DequantizationParams: a double
    zero = x.quant.zero_point.reshape(shape)
    return lambda a: ((a.astype(np.int64) - zero) * scale).astype(F32)


def _elementwise(function):
    def builder(op: Op, graph: Graph, source: str):
        _float_only(op, graph, source)
        fact = float_activation(op.options.get("act"), source)
        return lambda *a: fact(np.asarray(function(*a), F32))
    return builder


def _leaky_relu(op: Op, graph: Graph, source: str):
    _float_only(op, graph, source)
    alpha = np.float32(op.options["alpha"])
    return lambda a: np.where(a >= 0, a, a * alpha).astype(F32, copy=False)


def _hard_swish(a: np.ndarray) -> np.ndarray:
    """x · relu6(x + 3) / 6, TFLite's HARD_SWISH (Keras' hard_swish / hard_silu)."""
    return a * np.clip(a + np.float32(3), 0, 6) / np.float32(6)


def _mean(op: Op, graph: Graph, source: str):
    _float_only(op, graph, source)
    keep = op.options["keep_dims"]
    return lambda a, axes: a.mean(axis=tuple(int(i) % a.ndim for i in np.ravel(axes)),
                                  keepdims=keep, dtype=F32)


def _concatenation(op: Op, graph: Graph, source: str):
    _float_only(op, graph, source)
    axis, fact = op.options["axis"], float_activation(op.options["act"], source)
    return lambda *a: fact(np.concatenate(a, axis=axis))


def _squeeze(op: Op, graph: Graph, source: str):
    rest = tuple(graph.tensors[op.outputs[0]].shape[1:])
    return lambda a: a.reshape((len(a),) + rest)


def _pad(op: Op, graph: Graph, source: str):
    (x, *_), out = _tensors(op, graph)
    fill = int(x.quant.zero_point[0]) if x.dtype == I8 and x.quant is not None else 0
    return lambda a, pads: np.pad(a, [tuple(p) for p in np.asarray(pads).tolist()],
                                  constant_values=fill)


MISC = {
    "RESHAPE": _reshape, "SHAPE": _shape, "STRIDED_SLICE": _strided_slice, "PACK": _pack,
    "SOFTMAX": _softmax, "QUANTIZE": _quantize, "DEQUANTIZE": _dequantize,
    "ADD": _elementwise(np.add), "SUB": _elementwise(np.subtract), "MUL": _elementwise(np.multiply),
    "RELU": _elementwise(lambda a: np.maximum(a, 0)),
    "RELU6": _elementwise(lambda a: np.clip(a, 0, 6)),
    "LOGISTIC": _elementwise(lambda a: 1 / (1 + np.exp(-a))), "TANH": _elementwise(np.tanh),
    "ELU": _elementwise(lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0)))),
    "MEAN": _mean, "CONCATENATION": _concatenation, "SQUEEZE": _squeeze, "PAD": _pad,
    "LEAKY_RELU": _leaky_relu, "HARD_SWISH": _elementwise(_hard_swish),
}
