"""Errors a user can cause, and the one-line report the CLIs print for them."""

from __future__ import annotations


class FmnistError(Exception):
    """A problem with the user's input or environment (missing data, bad file, bad option).

    CLIs print ``prog: error: <message>`` on one line and exit with ``exit_code`` (2: usage/input).
    """

    exit_code = 2


class DatasetError(FmnistError):
    """The Fashion-MNIST files are missing, truncated or not what they claim to be."""


class MissingExtraError(FmnistError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        target = f"'fmnist-edge[{extra}]'" if extra else "fmnist-edge"
        super().__init__(f"{module} is not installed; install it with: pip install {target}")
        self.module = module
        self.extra = extra


class BackendUnavailable(FmnistError):
    """A backend is installed but cannot work here; the message says why and what to use instead."""


class EngineTooOld(FmnistError):
    """The engine does not know an operator version the file uses (a newer converter wrote it):
    the file is sound, another engine may run it. tflite-runtime 2.14, the last release and the
    only engine of 32-bit Raspberry Pi OS bookworm, has no FULLY_CONNECTED version 12, which
    LiteRT 2.x's dynamic-range files use (measured under qemu-arm, 2026-12-06)."""

    def __init__(self, message: str, engine: str) -> None:
        super().__init__(message)
        self.engine = engine


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type name when empty), cut to ``limit``."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]
