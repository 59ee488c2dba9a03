"""TFLite models on NumPy alone: the engine of a device where no other engine installs.

No wheel of ai-edge-litert, onnxruntime or tflite-runtime exists for 32-bit Raspberry Pi OS
(armv7l) on Python 3.13, but Debian's ``python3-numpy`` does: this backend reads the .tflite
file itself (:mod:`.tflite_file`), prepares every op once (:mod:`.numpy_ops`,
:mod:`.numpy_misc`) and runs the graph in order. Ops whose inputs are all constants (the float16
file's weight DEQUANTIZE) are computed once at load. ``auto`` picks it only when no other
TFLite engine imports; a file with an op or type it does not compute is refused at load with
one line naming it. A runner keeps no state between calls but its input buffer, so a runner
per thread (as the Classifier does) is all it needs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .errors import FmnistError
from .numpy_misc import MISC
from .numpy_ops import BUILDERS, conv_max_pool, unsupported
from .quantize import QuantParams
from .tflite_file import Graph, Tensor, read_graph

BUILD = {**BUILDERS, **MISC}
CHUNK = 256  # images per step of a batch: the im2col matrices stay a few MB


def _quant_params(t: Tensor) -> QuantParams | None:
    if t.quant is None or t.dtype.kind not in "iu" or t.dtype == np.int32:
        return None
    return QuantParams(float(t.quant.scale[0]), int(t.quant.zero_point[0]), t.dtype.name)


def _fusable(graph: Graph, ops: list, i: int) -> bool:
    """An int8 CONV_2D whose only reader is the MAX_POOL_2D right after it (no activation)."""
    conv, pool = ops[i], ops[i + 1] if i + 1 < len(ops) else None
    if conv.name != "CONV_2D" or pool is None or pool.name != "MAX_POOL_2D":
        return False
    out = conv.outputs[0]
    readers = sum(out in op.inputs for op in ops)
    return (readers == 1 and pool.inputs[0] == out and out not in graph.outputs
            and graph.tensors[out].dtype == np.int8 and graph.tensors[conv.inputs[1]].dtype == np.int8
            and pool.options["act"] is None)


def plan(graph: Graph, source: str) -> tuple[list, list]:
    """(steps, values): one (name, fn, input indices, output index) per step; constants folded."""
    tensors, steps, ops = list(graph.tensors), [], list(graph.ops)
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.name not in BUILD:
            raise unsupported(source, f"op {op.name}")
        if len(op.outputs) != 1:
            raise unsupported(source, f"{op.name} with {len(op.outputs)} outputs")
        now = replace(graph, tensors=tuple(tensors))
        ins = [k for k in op.inputs if k >= 0]
        if _fusable(now, ops, i) and tensors[op.inputs[0]].data is None:
            pool = ops[i + 1]
            steps.append(("CONV_2D+MAX_POOL_2D", conv_max_pool(op, pool, now, source), ins,
                          pool.outputs[0]))
            i += 2
            continue
        fn = BUILD[op.name](op, now, source)
        if all(tensors[k].data is not None for k in ins):  # a constant: computed once, now
            data = np.asarray(fn(*[tensors[k].data for k in ins]))
            tensors[op.outputs[0]] = replace(tensors[op.outputs[0]], data=data)
        else:
            steps.append((op.name, fn, ins[:getattr(fn, "inputs_used", len(ins))], op.outputs[0]))
        i += 1
    return _live(steps, graph.outputs), [t.data for t in tensors]


def _live(steps: list, outputs) -> list:
    """The steps the outputs need (a reshape that ignores its shape input drops that chain)."""
    needed, kept = set(outputs), []
    for step in reversed(steps):
        if step[3] in needed:
            kept.append(step)
            needed.update(step[2])
    return kept[::-1]


class NumpyRunner:
    """One .tflite model on NumPy; the same calls as the other engines' runners."""

    backend = "numpy"
    delegate = "none (numpy)"

    def __init__(self, model_bytes: bytes, source: str) -> None:
        self.source = source
        graph = read_graph(model_bytes, source)
        if len(graph.inputs) != 1 or len(graph.outputs) != 1:
            raise FmnistError(f"{source}: the model has {len(graph.inputs)} inputs and "
                              f"{len(graph.outputs)} outputs; a classifier has one of each")
        self._steps, self._constants = plan(graph, source)
        self._in, self._out = graph.inputs[0], graph.outputs[0]
        inp, out = graph.tensors[self._in], graph.tensors[self._out]
        self.input_name = inp.name
        self.input_shape, self.output_shape = list(inp.signature), list(out.signature)
        self.input_dtype = inp.dtype
        self.input_quant, self.output_quant = _quant_params(inp), _quant_params(out)
        self._out_dtype = out.dtype
        self.one = np.zeros([1] + [abs(d) for d in self.input_shape[1:]], self.input_dtype)

    def clone(self) -> "NumpyRunner":
        """Another runner of the same model for another thread: the prepared steps hold no state
        between calls, so they are shared; the input buffer is its own."""
        twin = object.__new__(NumpyRunner)
        twin.__dict__.update(self.__dict__)
        twin.one = np.zeros_like(self.one)
        return twin

    def op_names(self) -> list[str]:
        """The ops run per call (constant ones were folded at load)."""
        return [name for name, *_ in self._steps]

    def _run(self, x: np.ndarray) -> np.ndarray:
        values = list(self._constants)
        values[self._in] = x
        for _, fn, ins, out in self._steps:
            values[out] = fn(*[values[i] for i in ins])
        result = values[self._out]
        if result.dtype != self._out_dtype:
            raise FmnistError(f"{self.source}: the numpy engine computed {result.dtype.name} "
                              f"where the model declares {self._out_dtype.name}")
        return result

    def bind_one(self, prepare, operand, targets: dict, post):
        """The batch-1 call: prepare the image into ``self.one``, run, post-process."""
        one, run = self.one, self._run

        def call(x):  # every step returns a new array: the output needs no copy
            prepare(x, operand, targets[x.shape])
            return post(run(one))
        return call

    def run_one(self) -> np.ndarray:
        """Raw output (1, classes), a new array, for the input in ``self.one``."""
        return self._run(self.one)

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, classes) for prepared inputs, CHUNK images at a time."""
        x = np.asarray(x, self.input_dtype)
        return np.concatenate([self._run(x[i:i + CHUNK]) for i in range(0, len(x), CHUNK)])


def check() -> None:
    """Nothing to check: NumPy is what the runtime itself needs."""


def open_model(model_bytes: bytes, source: str, threads: int | None = None) -> NumpyRunner:
    """A NumpyRunner (``threads`` is ignored: NumPy's BLAS has threads of its own)."""
    return NumpyRunner(model_bytes, source)
