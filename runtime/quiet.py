"""Silence native libraries that print to file descriptor 2 (LiteRT's XNNPACK banner, converter logs).

Python-level ``sys.stderr`` redirection does not reach C++ code, so this swaps fd 2 itself for a
temporary file. What was captured is kept on the context object, so an error can still show it.
The swap is process-wide: one at a time (a lock), or two threads loading models at once could
each restore the other's temporary file as stderr for good; while a model loads (a few ms),
what other threads write to fd 2 lands in that file too.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Iterator


class Captured:
    """Text a native library wrote to stderr inside :func:`native_stderr_captured`."""

    text: str = ""


_SWAP = threading.RLock()  # re-entrant: a capture inside a capture in one thread is fine


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[Captured]:
    """Capture everything written to fd 2 inside the block (Python and native code alike)."""
    with _SWAP:
        yield from _captured()


def _sink():
    """An unnamed temporary file: a memfd on Linux, which spares a cold start tempfile's imports
    (random, shutil, …: 2–3 ms of fmnist-predict's 2-core AMD EPYC start)."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):  # a sandbox may refuse it
            return open(os.memfd_create("fmnist-edge-stderr"), "w+b")
    import tempfile

    return tempfile.TemporaryFile(mode="w+b")


def _captured() -> Iterator[Captured]:
    captured = Captured()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, pytest capture)
        yield captured
        return
    with _sink() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")
