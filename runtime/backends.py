"""Backend choice: by file type, or by name; ``auto`` takes the first one that imports."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from .errors import BackendUnavailable, FmnistError, MissingExtraError


class Backend(str, Enum):
    """Inference engines the runtime can drive."""

    AUTO = "auto"
    LITERT = "litert"  # ai-edge-litert, the maintained TFLite runtime
    TFLITE_RUNTIME = "tflite-runtime"  # legacy fallback, NumPy < 2 only
    ONNXRUNTIME = "onnxruntime"


FORMAT = {Backend.LITERT: "tflite", Backend.TFLITE_RUNTIME: "tflite", Backend.ONNXRUNTIME: "onnx"}
# auto order per format: ai-edge-litert first, tflite-runtime only as the fallback
CANDIDATES = {"tflite": (Backend.LITERT, Backend.TFLITE_RUNTIME), "onnx": (Backend.ONNXRUNTIME,)}
EXTRA = {"tflite": "litert", "onnx": "onnx"}
LIBRARY = {"tflite": "ai-edge-litert", "onnx": "onnxruntime"}


def _opener(backend: Backend):
    if backend is Backend.LITERT:
        from .backend_litert import open_litert

        return open_litert
    if backend is Backend.TFLITE_RUNTIME:
        from .backend_tflite_runtime import open_tflite_runtime

        return open_tflite_runtime
    from .backend_onnx import OnnxRunner

    return OnnxRunner


def format_of(path: Path) -> str:
    """``tflite`` or ``onnx`` from the file name; a one-line error for anything else."""
    fmt = {".tflite": "tflite", ".onnx": "onnx"}.get(path.suffix.lower())
    if fmt is None:
        raise FmnistError(f"{path}: unknown model type (expected a .tflite or .onnx file, "
                          "or an export folder with manifest.json)")
    return fmt


def usable_formats(backend: Backend) -> list[str]:
    """Formats to try, in order: the backend's own, or (auto) TFLite first, then ONNX."""
    return [FORMAT[backend]] if backend is not Backend.AUTO else ["tflite", "onnx"]


def open_runner(model_bytes: bytes, fmt: str, source: str, backend: Backend, threads: int | None):
    """Open ``model_bytes`` on ``backend``; with auto, on the first backend for ``fmt`` that works."""
    if backend is not Backend.AUTO:
        if FORMAT[backend] != fmt:
            raise FmnistError(f"{source}: backend {backend.value} runs {FORMAT[backend]} models, "
                              f"not {fmt}")
        return _opener(backend)(model_bytes, source, threads)
    for candidate in CANDIDATES[fmt]:
        try:
            return _opener(candidate)(model_bytes, source, threads)
        except (MissingExtraError, BackendUnavailable):
            continue
    raise MissingExtraError(LIBRARY[fmt], EXTRA[fmt])


def availability(backend: Backend) -> str | None:
    """None when the backend's library imports and can work here, else the reason it cannot."""
    try:
        if backend is Backend.LITERT:
            from .backend_litert import litert_interpreter_class

            litert_interpreter_class()
        elif backend is Backend.TFLITE_RUNTIME:
            from .backend_tflite_runtime import tflite_runtime_interpreter_class

            tflite_runtime_interpreter_class()
        else:
            import onnxruntime  # noqa: F401
    except ImportError:
        return MissingExtraError(LIBRARY["onnx"], EXTRA["onnx"]).args[0]
    except FmnistError as exc:
        return str(exc)
    return None


def format_runnable(fmt: str, backend: Backend = Backend.AUTO) -> bool:
    """True when some allowed backend for ``fmt`` can run here."""
    allowed = CANDIDATES[fmt] if backend is Backend.AUTO else (backend,)
    return any(availability(b) is None for b in allowed if FORMAT[b] == fmt)
