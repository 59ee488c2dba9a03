"""Silence native libraries that print to file descriptor 2 (LiteRT's XNNPACK banner, converter logs).

Python-level ``sys.stderr`` redirection does not reach C++ code, so this swaps fd 2 itself for a
temporary file. What was captured is kept on the context object, so an error can still show it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator


class Captured:
    """Text a native library wrote to stderr inside :func:`native_stderr_captured`."""

    text: str = ""


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[Captured]:
    """Capture everything written to fd 2 inside the block (Python and native code alike)."""
    captured = Captured()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, pytest capture)
        yield captured
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
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
