"""tflite-runtime backend: a fallback for old set-ups only (its last release, 2.14, needs NumPy 1.x)."""

from __future__ import annotations

import numpy as np

from .backend_litert import TFLiteRunner
from .errors import BackendUnavailable


def tflite_runtime_interpreter_class():
    """``tflite_runtime.interpreter.Interpreter`` where it can work (NumPy < 2)."""
    import importlib.util

    installed = importlib.util.find_spec("tflite_runtime") is not None
    major = int(np.__version__.split(".")[0])
    if not installed:
        raise BackendUnavailable("tflite-runtime is not installed (a fallback for NumPy < 2 set-ups "
                                 "only; ai-edge-litert is the supported TFLite backend)")
    if major >= 2:
        # tflite-runtime 2.14 (Oct 2023) was built against NumPy 1.x and crashes on import under 2.x.
        raise BackendUnavailable(
            f"tflite-runtime skipped: its last release (2.14) is built for NumPy 1.x and crashes "
            f"with NumPy {np.__version__}; use ai-edge-litert: pip install 'fmnist-edge[litert]'")
    from tflite_runtime.interpreter import Interpreter

    return Interpreter


def check() -> None:
    """Raise BackendUnavailable when tflite-runtime is missing or cannot work with this NumPy."""
    tflite_runtime_interpreter_class()


def open_model(model_bytes: bytes, source: str, threads: int | None = None) -> TFLiteRunner:
    """A TFLiteRunner on tflite-runtime (NumPy < 2 only)."""
    return TFLiteRunner(model_bytes, tflite_runtime_interpreter_class(), threads,
                        "tflite-runtime", source)
