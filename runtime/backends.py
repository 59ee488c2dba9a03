"""Backend choice: by file type, or by name; ``auto`` takes the first one that imports.

What each backend runs and what installs it is in :mod:`.formats`; each engine's module has the
same two functions, ``check()`` (raise when it cannot work here) and ``open_model``.
"""

from __future__ import annotations

import importlib

from .errors import BackendUnavailable, EngineTooOld, FmnistError, MissingExtraError
from .formats import ENGINES, FORMATS, Backend, Format


def _module(backend: Backend):
    return importlib.import_module(f"{__package__}.{ENGINES[backend].module}")


def usable_formats(backend: Backend) -> list[Format]:
    """Formats to try, in order: the backend's own, or (auto) every format in table order."""
    return [ENGINES[backend].format] if backend is not Backend.AUTO else list(FORMATS)


def missing_extra(fmt: Format) -> MissingExtraError:
    """The error naming the first engine of ``fmt`` and the extra that installs it."""
    return ENGINES[FORMATS[fmt].backends[0]].missing()


def open_runner(model_bytes: bytes, fmt: Format, source: str, backend: Backend, threads: int | None):
    """Open ``model_bytes`` on ``backend``; with auto, on the first backend for ``fmt`` that works."""
    if backend is not Backend.AUTO:
        own = ENGINES[backend].format
        if own != fmt:
            raise FmnistError(f"{source}: backend {backend.value} runs {own.value} models, "
                              f"not {Format(fmt).value}")
        return _module(backend).open_model(model_bytes, source, threads)
    too_old = None
    for candidate in FORMATS[fmt].backends:
        try:
            runner = _module(candidate).open_model(model_bytes, source, threads)
        except (MissingExtraError, BackendUnavailable):
            continue
        except EngineTooOld as exc:  # only a sound file newer than the engine goes on to the next
            too_old = too_old or exc  # (a damaged one stops here: no engine may guess at it)
            continue
        if too_old is not None:
            runner.delegate = f"{runner.delegate}; {too_old.engine} here is too old for this file"
        return runner
    if too_old is not None:
        raise too_old
    raise missing_extra(fmt)


def availability(backend: Backend) -> str | None:
    """None when the backend's library imports and can work here, else the reason it cannot."""
    try:
        _module(backend).check()
    except FmnistError as exc:
        return str(exc)
    return None


def format_runnable(fmt: Format, backend: Backend = Backend.AUTO, fallback: bool = True) -> bool:
    """True when some allowed backend for ``fmt`` can run here (``fallback``: the numpy engine
    counts too)."""
    allowed = FORMATS[fmt].backends if backend is Backend.AUTO else (backend,)
    return any(availability(b) is None for b in allowed
               if ENGINES[b].format == fmt and (fallback or not ENGINES[b].fallback))


def runnable_formats(backend: Backend = Backend.AUTO) -> list[Format]:
    """The formats to load in table order: those a real engine here runs, else (no engine
    installed) those the fallback engine runs; a MissingExtraError when there are none."""
    for fallback in (False, True):
        found = [f for f in usable_formats(backend) if format_runnable(f, backend, fallback)]
        if found:
            return found
    raise missing_extra(usable_formats(backend)[0])
