"""The ops of the numpy engine: each builder turns one TFLite op into a NumPy function.

``build(op, graph, source)`` returns ``fn(*inputs) -> output`` with the op's constants (weights
as GEMM-ready matrices, int8 multipliers, activation ranges) prepared once at load. Activations
are NHWC as in the file. A float op computes in float32; an int8 op (int8 input and output)
computes TFLite's integer arithmetic (:mod:`.numpy_int8`); a float op with int8 weights is a
dynamic-range (hybrid) layer. Anything else — an op, a type, an option or a fused activation
this module does not know — is one FmnistError naming it, never an approximate answer.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import numpy_int8 as q8
from .errors import FmnistError
from .tflite_file import Graph, Op, Tensor

F32, F64, I8 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int8)


def unsupported(source: str, what: str) -> FmnistError:
    """The one-line refusal: the file, and what the numpy engine does not compute."""
    return FmnistError(f"{source}: {what}: the numpy engine does not compute this "
                       "(install an engine: pip install 'fmnist-edge[litert]')")


def float_activation(act: str | None, source: str) -> Callable[[np.ndarray], np.ndarray]:
    if act is None:
        return lambda x: x
    bounds = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if act in bounds:
        lo, hi = bounds[act]
        return lambda x: np.clip(x, lo, hi, out=x) if hi is not None else np.maximum(x, lo, out=x)
    if act == "TANH":
        return np.tanh
    raise unsupported(source, f"fused activation {act}")


def _window_geometry(size: int, kernel: int, stride: int, dilation: int, padding: str):
    """Output size and (before, after) padding of one spatial axis, as TFLite computes them."""
    effective = (kernel - 1) * dilation + 1
    if padding == "VALID":
        return (size - effective) // stride + 1, (0, 0)
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return out, (total // 2, total - total // 2)


def _windows(x: np.ndarray, kh: int, kw: int, o: dict, pad_value) -> np.ndarray:
    """(N, OH, OW, C, KH, KW) views of the (padded) input under each output position."""
    dh, dw = o.get("dilation_h", 1), o.get("dilation_w", 1)
    oh, ph = _window_geometry(x.shape[1], kh, o["stride_h"], dh, o["padding"])
    ow, pw = _window_geometry(x.shape[2], kw, o["stride_w"], dw, o["padding"])
    if ph != (0, 0) or pw != (0, 0):
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pad_value)
    win = sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    return win[:, ::o["stride_h"], ::o["stride_w"], :, ::dh, ::dw][:, :oh, :ow]


class Im2col:
    """A conv's input as GEMM rows, one row per output position (C·KH·KW values, the windows'
    order): one gather through an index made once per input shape. Measured on the tutorial
    CNN's 28×28 input: 9 µs, against 21 µs for strided window views reshaped."""

    def __init__(self, kh: int, kw: int, options: dict) -> None:
        self.kh, self.kw, self.options, self.index = kh, kw, options, {}

    def __call__(self, a: np.ndarray) -> tuple[np.ndarray, int, int]:
        """(rows (N·OH·OW, C·KH·KW), OH, OW) of input ``a`` (N, H, W, C)."""
        n, shape = len(a), a.shape[1:]
        made = self.index.get(shape)
        if made is None:  # a dict store is atomic: threads may both make it, the same
            made = self.index[shape] = self._make(*shape)
        index, oh, ow, padded = made
        flat = a.reshape(n, -1)
        if padded:  # padding reads the zero appended after the last pixel
            flat = np.concatenate([flat, np.zeros((n, 1), a.dtype)], axis=1)
        return flat[:, index].reshape(n * oh * ow, -1), oh, ow

    def _make(self, h: int, w: int, c: int):
        size = h * w * c
        positions = np.arange(size).reshape(1, h, w, c)
        windows = _windows(positions, self.kh, self.kw, self.options, size)  # pad → the zero
        oh, ow = windows.shape[1:3]
        index = windows.reshape(oh * ow, -1)
        return index, oh, ow, bool((index == size).any())


def _is_int8(t: Tensor) -> bool:
    return t.dtype == I8 and t.quant is not None


def _layer_kind(x: Tensor, w: Tensor, out: Tensor, name: str, source: str) -> str:
    """``float``, ``int8`` (integer layer) or ``hybrid`` (float activations, int8 weights)."""
    if x.dtype == F32 and w.dtype == F32 and out.dtype == F32:
        return "float"
    if _is_int8(x) and _is_int8(w) and _is_int8(out):
        return "int8"
    if x.dtype == F32 and _is_int8(w) and out.dtype == F32:
        return "hybrid"
    raise unsupported(source, f"{name} with {x.dtype.name} input, {w.dtype.name} weights and "
                      f"{out.dtype.name} output")


def _dense(kind: str, x: Tensor, w_mat: np.ndarray, w: Tensor, bias: np.ndarray | None,
           out: Tensor, act: str | None, source: str):
    """The GEMM layer of a float, int8 or hybrid op with (K, O) weights (see the classes)."""
    if kind == "float":
        return FloatDense(w_mat, bias, float_activation(act, source))
    if np.any(w.quant.zero_point != 0):
        raise unsupported(source, f"int8 weights with a zero point ({w.name})")
    scales = w.quant.scale.astype(F64)
    if kind == "hybrid":
        return HybridDense(w_mat, scales, bias, float_activation(act, source))
    return Int8Dense(x, w_mat, scales, bias, out, act)


class FloatDense:
    """float32 rows (M, K) → activation(rows @ W + bias)."""

    def __init__(self, w_mat: np.ndarray, bias, act) -> None:
        self.mat = np.ascontiguousarray(w_mat.T.astype(F32)).T  # see Int8Dense: (O, K) rows
        self.bias, self.act = bias, act

    def prepare(self, a: np.ndarray) -> np.ndarray:
        return a

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        y = rows @ self.mat
        return self.act(y + self.bias if self.bias is not None else y)


class HybridDense:
    """A dynamic-range layer: each row's int8 codes (minus their zero point, per-row scale, as
    AsymmetricQuantizeFloats makes them) × int8 weights, rescaled to float32, + bias."""

    def __init__(self, w_mat: np.ndarray, scales: np.ndarray, bias, act) -> None:
        self.mat = np.ascontiguousarray(w_mat.T.astype(F64)).T
        self.scales, self.bias, self.act = scales, bias, act

    def __call__(self, rows: np.ndarray, row_scale: np.ndarray) -> np.ndarray:
        y = ((rows @ self.mat) * (row_scale[:, None].astype(F64) * self.scales)).astype(F32)
        return self.act(y + self.bias if self.bias is not None else y)


class Int8Dense:
    """An int8 GEMM layer: (input codes − zero point) rows → exact int32 sums → int8 codes.

    float32 GEMMs are BLAS's fastest, and exact while no partial sum passes 2^24. Each
    |code − zero point| is at most 255, so a column's sums stay within 255 × its L1 norm: below
    2^24 (the tutorial CNN's 3×3 conv: 201,195) float32 is always exact. Above it (its
    5408-input dense layer: 77 M) a call checks its rows: sums stay within the row's L1 norm ×
    the largest weight, usually far below 2^24 after a ReLU; else each code is split into
    16 × high + low nibble, two float32 GEMMs that are exact while 16 × the column L1 norm
    is below 2^24. Layers beyond that take float64, exact to 2^53.
    """

    def __init__(self, x: Tensor, w_mat: np.ndarray, scales: np.ndarray, bias, out: Tensor,
                 act: str | None) -> None:
        weights = w_mat.astype(np.int64)
        column_l1 = int(np.abs(weights).sum(axis=0).max(initial=0))
        self.mode = ("exact" if 255 * column_l1 < 1 << 24 else
                     "checked" if 16 * column_l1 < 1 << 24 else "float64")
        self.dtype = F64 if self.mode == "float64" else F32
        # stored (O, K), used transposed: one image × a dense layer is then BLAS's gemv on
        # contiguous rows (the tutorial CNN's 5408 × 100 layer: 16 µs, against 33 µs for (K, O))
        self.mat = np.ascontiguousarray(w_mat.T.astype(self.dtype)).T
        self.row_limit = float((1 << 24) // max(int(np.abs(weights).max(initial=0)), 1))
        self.zero = self.dtype.type(x.quant.zero_point[0])
        self.bias = bias
        out_scale, out_zero = float(out.quant.scale[0]), int(out.quant.zero_point[0])
        self.requant = q8.Requantizer(float(x.quant.scale[0]) * scales / out_scale, out_zero,
                                      *q8.activation_range(act, out_scale, out_zero))

    def prepare(self, a: np.ndarray) -> np.ndarray:
        """Codes − the input zero point, in the GEMM's dtype (exact: small integers)."""
        return a.astype(self.dtype) - self.zero

    def acc(self, rows: np.ndarray) -> np.ndarray:
        """The int32 accumulators without the bias, as exact floats."""
        if self.mode != "checked" or np.abs(rows).sum(axis=-1).max(initial=0) < self.row_limit:
            return rows @ self.mat
        high = np.floor(rows / 16)
        return (high @ self.mat).astype(F64) * 16 + (rows - high * 16) @ self.mat

    def finish(self, acc: np.ndarray) -> np.ndarray:
        """Bias, requantization, activation clamp: int8 codes."""
        total = acc.astype(np.int64)
        if self.bias is not None:
            total += self.bias
        return self.requant(total)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return self.finish(self.acc(rows))


def _bias(op: Op, graph: Graph, kind: str, source: str) -> np.ndarray | None:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return None
    b = graph.tensors[op.inputs[2]]
    if b.data is None:
        raise unsupported(source, f"{op.name} with a computed bias")
    return b.data.astype(F32) if kind != "int8" else b.data.astype(np.int64)


def _conv_layer(op: Op, graph: Graph, source: str):
    """(input, weights, output tensors, kind, GEMM layer) of a CONV_2D."""
    x, w, out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if w.data is None:
        raise unsupported(source, f"{op.name} with computed weights")
    if len(x.shape) != 4 or x.shape[3] != w.shape[3]:
        raise unsupported(source, f"a grouped {op.name} ({x.shape} input, {w.shape} weights)")
    kind = _layer_kind(x, w, out, op.name, source)
    w_mat = w.data.transpose(3, 1, 2, 0).reshape(-1, w.shape[0])  # (C·KH·KW, O), windows' order
    layer = _dense(kind, x, w_mat, w, _bias(op, graph, kind, source), out, op.options["act"], source)
    return x, w, out, kind, layer


def _conv(op: Op, graph: Graph, source: str):
    x, w, out, kind, layer = _conv_layer(op, graph, source)
    im2col = Im2col(w.shape[1], w.shape[2], op.options)
    if kind == "hybrid":  # the input is quantized per image, then padded with its zero point
        def hybrid_conv(a, *_):
            centred, scale, _ = q8.dynamic_quantize(a)
            rows, oh, ow = im2col(centred)
            return layer(rows, np.repeat(scale, oh * ow)).reshape(len(a), oh, ow, -1)
        return hybrid_conv

    def conv(a, *_):
        rows, oh, ow = im2col(layer.prepare(a))
        return layer(rows).reshape(len(a), oh, ow, -1)
    return conv


def conv_max_pool(conv_op: Op, pool_op: Op, graph: Graph, source: str):
    """An int8 CONV_2D and the MAX_POOL_2D after it as one step: pooled accumulators, then one
    requantization. Requantization is non-decreasing in the accumulator (multipliers >= 0) and
    so is the clamp, so max-then-requantize gives the codes requantize-then-max gives, with a
    quarter of the requantizations for a 2×2 pool."""
    x, w, out, kind, layer = _conv_layer(conv_op, graph, source)
    im2col, pool = Im2col(w.shape[1], w.shape[2], conv_op.options), _pool_windows(pool_op)

    def conv_pool(a, *_):
        rows, oh, ow = im2col(layer.prepare(a))
        return layer.finish(pool(layer.acc(rows).reshape(len(a), oh, ow, -1), -np.inf))
    return conv_pool


def _depthwise(op: Op, graph: Graph, source: str):
    x, w, out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    kind = _layer_kind(x, w, out, op.name, source) if w.data is not None else "computed weights"
    if kind != "float":
        raise unsupported(source, f"{kind} DEPTHWISE_CONV_2D")
    bias = _bias(op, graph, kind, source)
    o, (_, kh, kw, channels) = op.options, w.shape
    mult = o["depth_multiplier"] or channels // x.shape[3]
    kernel = w.data.reshape(kh, kw, -1).transpose(2, 0, 1).astype(F32)  # (C·M, KH, KW)
    fact = float_activation(o["act"], source)

    def depthwise(a, *_):
        win = _windows(np.repeat(a, mult, axis=3) if mult > 1 else a, kh, kw, o, 0)
        y = np.einsum("nhwckl,ckl->nhwc", win, kernel, optimize=True)
        return fact(y + bias if bias is not None else y)
    return depthwise


def _fully_connected(op: Op, graph: Graph, source: str):
    x, w, out = (graph.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if w.data is None or op.options["weights_format"] != 0:
        raise unsupported(source, "FULLY_CONNECTED with computed or shuffled weights")
    kind = _layer_kind(x, w, out, op.name, source)
    depth, keep = w.shape[1], op.options["keep_num_dims"]
    layer = _dense(kind, x, w.data.T, w, _bias(op, graph, kind, source), out,
                   op.options["act"], source)

    def fully_connected(a, *_):
        rows = a.reshape(-1, depth)
        y = layer(*q8.dynamic_quantize(rows)[:2]) if kind == "hybrid" else layer(layer.prepare(rows))
        return y.reshape(*a.shape[:-1], -1) if keep else y
    return fully_connected


def _pool_windows(op: Op) -> Callable[[np.ndarray, object], np.ndarray]:
    """``max_pool(a, pad_value)``: the max of each window of a MAX_POOL_2D (NHWC)."""
    o = op.options
    kh, kw, sh, sw = o["filter_h"], o["filter_w"], o["stride_h"], o["stride_w"]

    def max_pool(a, low):
        if o["padding"] == "VALID" and (kh, kw) == (sh, sw):  # tiles: a max of strided slices
            oh, ow = a.shape[1] // kh, a.shape[2] // kw  # (2×2 on 26×26×32: 5 µs, not 32 µs
            tiles = a[:, :oh * kh, :ow * kw]  # for a max over two axes of a 6-d view)
            out = tiles[:, ::kh, ::kw].copy()
            for i in range(kh):
                for j in range(kw):
                    if i or j:
                        np.maximum(out, tiles[:, i::kh, j::kw], out=out)
            return out
        return _windows(a, kh, kw, o, low).max(axis=(4, 5))
    return max_pool


def _pool(op: Op, graph: Graph, source: str):
    x, out = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    o, int8 = op.options, _is_int8(x)
    kh, kw = o["filter_h"], o["filter_w"]
    if int8 and (not _is_int8(out) or not np.array_equal(x.quant.scale, out.quant.scale)
                 or not np.array_equal(x.quant.zero_point, out.quant.zero_point)):
        raise unsupported(source, f"int8 {op.name} that rescales")
    if not int8 and x.dtype != F32:
        raise unsupported(source, f"{x.dtype.name} {op.name}")
    if int8:
        lo, hi = q8.activation_range(o["act"], float(out.quant.scale[0]), int(out.quant.zero_point[0]))
    else:
        fact = float_activation(o["act"], source)
    if op.name == "MAX_POOL_2D":
        low, pool = q8.INT8_MIN if int8 else -np.inf, _pool_windows(op)

        def max_pool(a, *_):
            y = pool(a, low)
            return np.clip(y, lo, hi).astype(I8) if int8 else fact(y)
        return max_pool

    def average_pool(a, *_):
        ones = np.ones((1,) + a.shape[1:3] + (1,), F64)
        count = _windows(ones, kh, kw, o, 0).sum(axis=(4, 5))  # padding is not counted
        total = _windows(a.astype(F64), kh, kw, o, 0).sum(axis=(4, 5))
        if not int8:
            return fact((total / count).astype(F32))
        half = np.floor(count / 2)  # (acc ± count/2) / count, truncated, as the reference kernel
        y = np.trunc((total + np.where(total > 0, half, -half)) / count)
        return np.clip(y, lo, hi).astype(I8)
    return average_pool


BUILDERS = {"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise,
            "FULLY_CONNECTED": _fully_connected, "MAX_POOL_2D": _pool, "AVERAGE_POOL_2D": _pool}
