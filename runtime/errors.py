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


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type name when empty), cut to ``limit``."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:limit]
