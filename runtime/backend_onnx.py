"""onnxruntime backend (``pip install fmnist-edge[onnx]``): CPU provider, all graph optimizations.

Batch-1 calls go through I/O binding on preallocated buffers (about half the per-call cost of
``session.run``, which converts inputs and allocates outputs each time). A session is
thread-safe, its bound buffers are not: one runner serves one thread at a time, and
:meth:`clone` gives another thread its own buffers and binding on the same session.
"""

from __future__ import annotations

import copy

import numpy as np

from .errors import FmnistError, first_line
from .formats import ENGINES, Backend

CHUNK = 1024  # images per session.run for batches


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ENGINES[Backend.ONNXRUNTIME].missing() from None
    return onnxruntime


def check() -> None:
    """Raise MissingExtraError when onnxruntime is not installed."""
    _onnxruntime()


def open_model(model_bytes: bytes, source: str, threads: int | None = None) -> "OnnxRunner":
    """An OnnxRunner on the CPU execution provider (``[onnx]``)."""
    return OnnxRunner(model_bytes, source, threads)


class OnnxRunner:
    """One .onnx model; QDQ int8 models take float x/255 input and quantize inside the graph."""

    backend = "onnxruntime"
    delegate = "CPUExecutionProvider"
    input_quant = output_quant = None

    def __init__(self, model_bytes: bytes, source: str, threads: int | None = None) -> None:
        ort = _onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: keep ORT's warnings off users' stderr
        if threads:
            options.intra_op_num_threads = threads
        self.source = source
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
            inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
            # names and metadata are decoded as UTF-8 here: a damaged file fails now, not later
            self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        except Exception as exc:  # ORT raises InvalidProtobuf, Fail, …; UnicodeDecodeError, IndexError
            raise FmnistError(f"{source}: not a loadable ONNX model ({first_line(exc)})") from None
        if inp.type != "tensor(float)":
            raise FmnistError(f"{source}: ONNX input is {inp.type}, expected float x/255")
        if out.type != "tensor(float)":
            raise FmnistError(f"{source}: ONNX output is {out.type}, expected float probabilities")
        self.input_name, self.output_name = inp.name, out.name
        self.input_shape = [d if isinstance(d, int) else -1 for d in inp.shape]
        self.output_shape = [d if isinstance(d, int) else -1 for d in out.shape]
        self.input_dtype = np.dtype(np.float32)
        self._bind_one()

    def clone(self) -> "OnnxRunner":
        """Another runner on the same session with buffers of its own (for another thread)."""
        other = copy.copy(self)
        other._bind_one()
        return other

    def _bind_one(self) -> None:
        shape = [1] + [abs(d) for d in self.input_shape[1:]]
        classes = abs(self.output_shape[-1]) if self.output_shape else 0
        self.one = np.zeros(shape, np.float32)  # the caller writes the batch-1 input here
        self._out1 = np.zeros((1, classes), np.float32)
        self._binding = self.session.io_binding()
        self._binding.bind_input(self.input_name, "cpu", 0, np.float32, shape, self.one.ctypes.data)
        self._binding.bind_output(self.output_name, "cpu", 0, np.float32, [1, classes],
                                  self._out1.ctypes.data)
        self._run_bound = self.session.run_with_iobinding

    def bind_one(self, prepare, operand, targets: dict, post):
        """The whole batch-1 call as one function (see ``TFLiteRunner.bind_one``)."""
        run, binding, out = self._run_bound, self._binding, self._out1

        def call(x):
            prepare(x, operand, targets[x.shape])
            run(binding)
            return post(out.copy())
        return call

    def run_one(self) -> np.ndarray:
        """Probabilities (1, 10), a new array, for the input the caller wrote into ``self.one``."""
        self._run_bound(self._binding)
        return self._out1.copy()

    def _one_of(self, image: np.ndarray) -> np.ndarray:
        self.one[0] = image
        return self.run_one()

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for float32 inputs (N, 28, 28, 1), in chunks of CHUNK."""
        shape = [-1] + [abs(d) for d in self.input_shape[1:]]
        x = x.reshape(shape)
        if self.input_shape[0] == 1:  # a fixed batch-1 model: no batching possible
            return np.concatenate([self._one_of(x[i]) for i in range(len(x))])
        run, feeds = self.session.run, [self.output_name]
        return np.concatenate([run(feeds, {self.input_name: x[i:i + CHUNK]})[0]
                               for i in range(0, len(x), CHUNK)])
