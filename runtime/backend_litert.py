"""TFLite models on a TFLite-API interpreter: ai-edge-litert (``[litert]``) or tflite-runtime.

Batch-1 calls use their own interpreter that is never resized; batched calls get a second one,
resized only when the chunk size changes, so mixing the two never re-plans either.

An interpreter is not thread-safe: one runner serves one thread at a time; :meth:`clone` makes
another runner of the same model for another thread.
"""

from __future__ import annotations

import sys

import numpy as np

from .errors import EngineTooOld, FmnistError, first_line
from .formats import ENGINES, Backend
from .preprocessing import to_model_input
from .quantize import QuantParams, quantize_images
from .quiet import native_stderr_captured

CHUNK = 256  # images per batched invoke: large enough to amortize the call, small enough for L2


def _quant(detail: dict) -> QuantParams | None:
    scale, zero_point = detail["quantization"]
    if not scale:
        return None
    return QuantParams(float(scale), int(zero_point), np.dtype(detail["dtype"]).name)


def litert_interpreter_class():
    """``ai_edge_litert.interpreter.Interpreter``, or a MissingExtraError naming ``[litert]``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ENGINES[Backend.LITERT].missing() from None
    return Interpreter


def reference_outputs(model_bytes: bytes, pixels: np.ndarray, builtin: bool = True) -> np.ndarray:
    """A whole batch through LiteRT itself: its builtin kernels (``builtin``, no XNNPACK) or its
    default; what the numpy engine and the export gallery are checked against.

    ``pixels``: uint8 (N, 28, 28), fed as the file takes them (quantized by its own input
    parameters, or x/255 in float).
    """
    import importlib

    cls = litert_interpreter_class()
    kw = {"experimental_op_resolver_type":
          importlib.import_module(cls.__module__).OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} \
        if builtin else {}
    with native_stderr_captured():
        interpreter = cls(model_content=model_bytes, **kw)
    detail = interpreter.get_input_details()[0]
    params = _quant(detail)
    x = quantize_images(pixels, params) if params else to_model_input(pixels)
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _core_calls(interpreter):
    """set/invoke/get of the interpreter's C++ wrapper, without the Python methods around them.

    The public methods are one-line forwards, plus a reference-count check in ``invoke`` that
    guards ``tensor()`` views, which this module never makes; skipping them saves ~0.6 µs of a
    16 µs int8 call. Both ai-edge-litert and tflite-runtime keep the wrapper in ``_interpreter``;
    without it, the public methods are used.
    """
    core = getattr(interpreter, "_interpreter", None)
    if all(hasattr(core, name) for name in ("SetTensor", "Invoke", "GetTensor")):
        return core.SetTensor, core.Invoke, core.GetTensor
    return interpreter.set_tensor, interpreter.invoke, interpreter.get_tensor


class TFLiteRunner:
    """One .tflite model: input/output details read once, buffers and bound methods cached."""

    def __init__(self, model_bytes: bytes, interpreter_class, threads: int | None,
                 backend: str, source: str) -> None:
        self._args = (model_bytes, interpreter_class, threads, backend, source)
        self._make = lambda **kw: interpreter_class(model_content=model_bytes,
                                                    num_threads=threads, **kw)
        self._resolver_types = getattr(sys.modules[interpreter_class.__module__], "OpResolverType", None)
        self.backend, self.source = backend, source
        self.delegate = "xnnpack"
        self._one = self._open(source)
        inp, out = self._one.get_input_details()[0], self._one.get_output_details()[0]
        self.input_name = inp["name"]
        self.input_shape = [int(d) for d in inp["shape_signature"]]  # -1 = any batch size
        self.output_shape = [int(d) for d in out["shape_signature"]]
        self.input_dtype = np.dtype(inp["dtype"])
        self.input_quant, self.output_quant = _quant(inp), _quant(out)
        self._in, self._out = inp["index"], out["index"]
        self._resize(self._one, 1)
        # our own input buffer, copied in by set_tensor: a view of the interpreter's memory
        # would be faster, but XNNPACK is applied at the first invoke and moves the tensors
        # (measured: a new input address after invoke 1), so no address is safe to keep
        self.one = np.zeros([1] + [abs(d) for d in self.input_shape[1:]], self.input_dtype)
        self._set, self._invoke, self._get = _core_calls(self._one)
        self._batch, self._batch_size = None, 0

    def clone(self) -> "TFLiteRunner":
        """Another runner of the same model with interpreters of its own (for another thread)."""
        return TFLiteRunner(*self._args)

    def _open(self, source: str):
        """An allocated, once-invoked interpreter; XNNPACK first, the builtin kernels if XNNPACK
        refuses. XNNPACK is applied at the first invoke, and kernels check their tensors then
        (a damaged zero point, a missing bias), so a model is loaded only when one invoke ran."""
        try:
            with native_stderr_captured():  # XNNPACK prints an INFO banner on every load
                interpreter = self._make()
                interpreter.allocate_tensors()
                interpreter.invoke()
            return interpreter
        except (ValueError, RuntimeError) as first_error:
            reason = first_line(first_error)
        try:
            builtin = self._resolver_types.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            with native_stderr_captured():
                interpreter = self._make(experimental_op_resolver_type=builtin)
                interpreter.allocate_tensors()
                interpreter.invoke()
        except (ValueError, RuntimeError, TypeError, AttributeError):
            message = f"{source}: not a loadable TFLite model ({reason})"
            if "Didn't find op for builtin opcode" in reason:  # sound, but newer than this engine
                raise EngineTooOld(message, self.backend) from None
            raise FmnistError(message) from None
        self.delegate = "none (builtin kernels: XNNPACK refused the model)"
        return interpreter

    def _resize(self, interpreter, n: int) -> None:
        shape = [n] + [abs(d) for d in self.input_shape[1:]]
        if [int(d) for d in interpreter.get_input_details()[0]["shape"]] == shape:
            return  # planned for it already: planning again re-applies XNNPACK (~0.6 ms a load)
        try:
            with native_stderr_captured():  # re-applying XNNPACK prints the banner again
                interpreter.resize_tensor_input(self._in, shape, strict=False)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:  # a damaged graph can fail to plan a new shape
            raise FmnistError(f"{self.source}: the model cannot run {n} image(s) at once "
                              f"({first_line(exc)})") from None

    def op_names(self) -> list[str]:
        """Op names in the graph (``DELEGATE`` = ops XNNPACK took; ``Flex…`` = TF ops)."""
        return [op["op_name"] for op in self._one._get_ops_details()]

    def bind_one(self, prepare, operand, targets: dict, post):
        """The whole batch-1 call as one function: ``prepare(x, operand, targets[x.shape])``
        writes the image into ``self.one`` (a ufunc: XOR 0x80 or × 1/255), then invoke, then
        ``post(raw)``. One Python frame for all of it: each extra call level costs ~0.1 µs of a
        15 µs int8 call."""
        set_tensor, invoke, get_tensor = self._set, self._invoke, self._get
        one, index_in, index_out = self.one, self._in, self._out

        def call(x):
            prepare(x, operand, targets[x.shape])
            set_tensor(index_in, one)
            invoke()
            return post(get_tensor(index_out))
        return call

    def run_one(self) -> np.ndarray:
        """Raw output (1, 10), a new array, for the input the caller wrote into ``self.one``."""
        self._set(self._in, self.one)
        self._invoke()
        return self._get(self._out)

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (N, 10) for prepared inputs (N, 28, 28, 1), in chunks of up to CHUNK."""
        n = len(x)
        size = min(n, CHUNK)
        if self._batch is None:
            self._batch = self._open(self.source)
        if size != self._batch_size:
            self._resize(self._batch, size)
            self._batch_size = size
        outputs = []
        for start in range(0, n, size):
            part = x[start:start + size]
            if len(part) < size:  # pad the tail instead of resizing for it
                part = np.concatenate([part, np.zeros((size - len(part),) + part.shape[1:], part.dtype)])
            self._batch.set_tensor(self._in, part)
            self._batch.invoke()
            outputs.append(self._batch.get_tensor(self._out))
        return np.concatenate(outputs)[:n]


def check() -> None:
    """Raise MissingExtraError when ai-edge-litert is not installed."""
    litert_interpreter_class()


def open_model(model_bytes: bytes, source: str, threads: int | None = None) -> TFLiteRunner:
    """A TFLiteRunner on ai-edge-litert (``[litert]``)."""
    return TFLiteRunner(model_bytes, litert_interpreter_class(), threads, "litert", source)
