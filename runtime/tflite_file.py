"""A .tflite file as plain Python and NumPy: tensors, their data and quantization, and the ops.

A small reader of the TFLite flatbuffer schema (``tensorflow/lite/schema/schema.fbs``), written
here instead of depending on the ``tflite`` and ``flatbuffers`` packages: it reads only the
tables the numpy engine needs (about 20 fields), installs nothing on a device, and checks every
offset against the file's length, so a damaged file is one FmnistError, never a wrong read.
Field slots are 4 + 2 × the field's index in the schema; each table below names its fields.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from .errors import FmnistError

# schema.fbs enum TensorType: the types the numpy engine computes with (others are refused)
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
TYPE_NAMES = {5: "STRING", 6: "BOOL", 7: "INT16", 8: "COMPLEX64", 10: "FLOAT64", 11: "COMPLEX128",
              12: "UINT64", 13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16",
              17: "INT4", 18: "BFLOAT16", 19: "INT2", 20: "UINT4"}
# schema.fbs enum BuiltinOperator, by code: the ops this reader knows the options of
OPS = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
       6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D", 18: "MUL",
       19: "RELU", 21: "RELU6", 22: "RESHAPE", 25: "SOFTMAX", 28: "TANH", 34: "PAD", 40: "MEAN",
       41: "SUB", 43: "SQUEEZE", 45: "STRIDED_SLICE", 77: "SHAPE", 83: "PACK", 98: "LEAKY_RELU",
       111: "ELU", 114: "QUANTIZE", 117: "HARD_SWISH"}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}
# per op: its options table's fields as (name, slot, struct format, default); "act" and
# "padding" are enums, decoded by name below
_CONV = [("padding", 4, "<b", 0), ("stride_w", 6, "<i", 1), ("stride_h", 8, "<i", 1),
         ("act", 10, "<b", 0), ("dilation_w", 12, "<i", 1), ("dilation_h", 14, "<i", 1)]
_POOL = [("padding", 4, "<b", 0), ("stride_w", 6, "<i", 1), ("stride_h", 8, "<i", 1),
         ("filter_w", 10, "<i", 1), ("filter_h", 12, "<i", 1), ("act", 14, "<b", 0)]
OPTIONS = {
    "CONV_2D": _CONV,
    "DEPTHWISE_CONV_2D": [("padding", 4, "<b", 0), ("stride_w", 6, "<i", 1),
                          ("stride_h", 8, "<i", 1), ("depth_multiplier", 10, "<i", 1),
                          ("act", 12, "<b", 0), ("dilation_w", 14, "<i", 1),
                          ("dilation_h", 16, "<i", 1)],
    "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL,
    "FULLY_CONNECTED": [("act", 4, "<b", 0), ("weights_format", 6, "<b", 0),
                        ("keep_num_dims", 8, "<?", False), ("asymmetric_inputs", 10, "<?", False)],
    "SOFTMAX": [("beta", 4, "<f", 0.0)],
    "ADD": [("act", 4, "<b", 0)], "SUB": [("act", 4, "<b", 0)], "MUL": [("act", 4, "<b", 0)],
    "CONCATENATION": [("axis", 4, "<i", 0), ("act", 6, "<b", 0)],
    "MEAN": [("keep_dims", 4, "<?", False)],
    "LEAKY_RELU": [("alpha", 4, "<f", 0.0)],
    "STRIDED_SLICE": [("begin_mask", 4, "<i", 0), ("end_mask", 6, "<i", 0),
                      ("ellipsis_mask", 8, "<i", 0), ("new_axis_mask", 10, "<i", 0),
                      ("shrink_axis_mask", 12, "<i", 0), ("offset", 14, "<?", False)],
    "PACK": [("values_count", 4, "<i", 0), ("axis", 6, "<i", 0)],
}


@dataclass(frozen=True)
class Quant:
    """A tensor's affine quantization: real = scale × (q − zero_point), per channel on ``axis``."""

    scale: np.ndarray  # float32, one value or one per channel
    zero_point: np.ndarray  # int64, as many as scale
    axis: int = 0


@dataclass(frozen=True)
class Tensor:
    """One tensor of the graph; ``data`` holds a constant's values (None for activations)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    data: np.ndarray | None = None
    quant: Quant | None = None
    signature: tuple[int, ...] = ()  # shape with -1 for a dimension of any size (the batch)


@dataclass(frozen=True)
class Op:
    """One operator: its builtin name, tensor indices (-1 = an omitted optional input), options."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    """The model's first subgraph: what the numpy engine runs."""

    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


class _Reader:
    """Bounds-checked little-endian reads of flatbuffer tables, vectors and strings."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.source = memoryview(data), source

    def fail(self, what: str) -> FmnistError:
        return FmnistError(f"{self.source}: not a valid TFLite file ({what})")

    def scalar(self, fmt: str, pos: int):
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise self.fail(f"offset {pos} outside the file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def table(self, pos: int) -> int:
        self.scalar("<i", pos)
        return pos

    def slot(self, table: int, slot: int) -> int | None:
        """The position of a table's field, or None when the field is absent (its default)."""
        vtable = table - self.scalar("<i", table)
        if slot >= self.scalar("<H", vtable):
            return None
        offset = self.scalar("<H", vtable + slot)
        return table + offset if offset else None

    def field(self, table: int, slot: int, fmt: str, default):
        pos = self.slot(table, slot)
        return default if pos is None else self.scalar(fmt, pos)

    def ref(self, table: int, slot: int) -> int | None:
        """Where an offset field (table, vector, string) points, or None."""
        pos = self.slot(table, slot)
        return None if pos is None else pos + self.scalar("<I", pos)

    def vector(self, table: int, slot: int, fmt: str) -> tuple:
        start = self.ref(table, slot)
        if start is None:
            return ()
        count, size = self.scalar("<I", start), struct.calcsize(fmt)
        if start + 4 + count * size > len(self.data):
            raise self.fail("a vector runs past the end of the file")
        return struct.unpack_from(f"<{count}{fmt[1:]}", self.data, start + 4)

    def tables(self, table: int, slot: int) -> list[int]:
        start = self.ref(table, slot)
        if start is None:
            return []
        return [start + 4 + 4 * i + off for i, off in enumerate(self.vector(table, slot, "<I"))]

    def bytes(self, table: int, slot: int) -> memoryview:
        start = self.ref(table, slot)
        if start is None:
            return memoryview(b"")
        count = self.scalar("<I", start)
        if start + 4 + count > len(self.data):
            raise self.fail("a buffer runs past the end of the file")
        return self.data[start + 4:start + 4 + count]

    def string(self, table: int, slot: int) -> str:
        return bytes(self.bytes(table, slot)).decode("utf-8", "replace")


def read_graph(data: bytes, source: str) -> Graph:
    """The first subgraph of a .tflite file; FmnistError for a damaged or unsupported file."""
    r = _Reader(data, source)
    if len(data) < 8 or bytes(data[4:8]) != b"TFL3":
        raise r.fail("no TFL3 identifier")
    model = r.table(r.scalar("<I", 0))
    codes = [_op_code(r, t) for t in r.tables(model, 6)]
    buffers = r.tables(model, 12)
    subgraphs = r.tables(model, 8)
    if not subgraphs:
        raise r.fail("no subgraph")
    graph = subgraphs[0]
    tensors = tuple(_tensor(r, t, buffers) for t in r.tables(graph, 4))
    ops = tuple(_op(r, t, codes, len(tensors)) for t in r.tables(graph, 10))
    inputs, outputs = r.vector(graph, 6, "<i"), r.vector(graph, 8, "<i")
    for index in (*inputs, *outputs):
        if not 0 <= index < len(tensors):
            raise r.fail(f"graph input/output {index} is not a tensor")
    return Graph(tensors, ops, tuple(inputs), tuple(outputs))


def _op_code(r: _Reader, table: int) -> str:
    # builtin_code (slot 10, int32) supersedes deprecated_builtin_code (slot 4, int8) from 127 on
    code = max(r.field(table, 10, "<i", 0), r.field(table, 4, "<b", 0))
    custom = r.string(table, 6)
    if custom:
        return f"custom op {custom!r}"
    return OPS.get(code, f"builtin op {code}")


def _tensor(r: _Reader, table: int, buffers: list[int]) -> Tensor:
    name = r.string(table, 10)
    type_code = r.field(table, 6, "<b", 0)
    if type_code not in TENSOR_TYPES:
        raise FmnistError(f"{r.source}: tensor {name!r} has type "
                          f"{TYPE_NAMES.get(type_code, type_code)}, which the numpy engine does not compute")
    if r.slot(table, 16) is not None or r.slot(table, 24) is not None:
        raise FmnistError(f"{r.source}: tensor {name!r} is sparse or stored outside the file, "
                          "which the numpy engine does not read")
    dtype = np.dtype(TENSOR_TYPES[type_code])
    shape = tuple(int(d) for d in r.vector(table, 4, "<i"))
    data = _buffer(r, table, buffers, name, dtype, shape)
    quant_table = r.ref(table, 12)
    quant = _quant(r, quant_table, name) if quant_table is not None else None
    signature = tuple(int(d) for d in r.vector(table, 18, "<i")) or shape
    return Tensor(name, shape, dtype, data, quant, signature)


def _buffer(r: _Reader, table: int, buffers: list[int], name: str, dtype: np.dtype,
            shape: tuple[int, ...]) -> np.ndarray | None:
    index = r.field(table, 8, "<I", 0)
    if index == 0:  # buffer 0 is the empty sentinel: an activation
        return None
    if index >= len(buffers):
        raise r.fail(f"tensor {name!r} names buffer {index} of {len(buffers)}")
    raw = r.bytes(buffers[index], 4)
    if not len(raw):
        if r.field(buffers[index], 6, "<Q", 0):
            raise FmnistError(f"{r.source}: tensor {name!r} is stored outside the flatbuffer "
                              "(a model over 2 GB), which the numpy engine does not read")
        return None
    count = int(np.prod(shape)) if shape else 1
    if len(raw) != count * dtype.itemsize:
        raise r.fail(f"tensor {name!r} holds {len(raw)} bytes for shape {list(shape)}")
    return np.frombuffer(raw, dtype).reshape(shape).copy()  # a copy: aligned, and writable-safe


def _quant(r: _Reader, table: int, name: str) -> Quant | None:
    scale = np.array(r.vector(table, 8, "<f"), np.float32)
    zero_point = np.array(r.vector(table, 10, "<q"), np.int64)
    if r.field(table, 12, "<B", 0):
        raise FmnistError(f"{r.source}: tensor {name!r} has custom or blockwise quantization, "
                          "which the numpy engine does not compute")
    if not len(scale):
        return None  # min/max only, or nothing: not quantized
    if len(zero_point) != len(scale) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise r.fail(f"tensor {name!r} has {len(scale)} scales and {len(zero_point)} zero points")
    return Quant(scale, zero_point, r.field(table, 16, "<i", 0))


def _op(r: _Reader, table: int, codes: list[str], tensors: int) -> Op:
    index = r.field(table, 4, "<I", 0)
    if index >= len(codes):
        raise r.fail(f"an operator names op code {index} of {len(codes)}")
    name = codes[index]
    inputs, outputs = r.vector(table, 6, "<i"), r.vector(table, 8, "<i")
    for i in (*inputs, *outputs):
        if not -1 <= i < tensors:
            raise r.fail(f"{name} names tensor {i} of {tensors}")
    options = {}
    spec = OPTIONS.get(name)
    place = r.ref(table, 12)
    if spec and place is not None:
        options = {key: r.field(place, slot, fmt, default) for key, slot, fmt, default in spec}
    elif spec:
        options = {key: default for key, _, _, default in spec}
    if "act" in options:
        options["act"] = ACTIVATIONS.get(options["act"], f"activation {options['act']}")
    if "padding" in options:
        options["padding"] = PADDING.get(options["padding"], f"padding {options['padding']}")
    if name == "RESHAPE" and place is not None:
        options["new_shape"] = r.vector(place, 4, "<i")
    return Op(name, tuple(inputs), tuple(outputs), options)
