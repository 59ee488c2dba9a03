"""Shared CLI plumbing: one-line usage errors (exit 2) and one-line reports of user mistakes."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Callable

from .errors import FmnistError


class UsageError(Exception):
    """A combination of options that argparse alone cannot reject; reported via ``parser.error``."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (plus the exit code 2), no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _parse(int, text, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _parse(int, text, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    value = _parse(float, text, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0."""
    value = _parse(float, text, "a number")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def unit_float(text: str) -> float:
    """argparse type: a float in [0, 1)."""
    value = _parse(float, text, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive integers, e.g. ``256,128``."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated whole numbers, e.g. 256,128")
    return tuple(positive_int(p) for p in parts)


def enum_choice(enum: type) -> Callable[[str], object]:
    """argparse type for a str Enum; an unknown value lists the valid ones."""
    def parse(text: str):
        try:
            return enum(text)
        except ValueError:
            valid = ", ".join(e.value for e in enum)
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {valid})") from None
    parse.__name__ = enum.__name__
    return parse


def enum_metavar(enum: type) -> str:
    """``{a,b,c}`` for a str Enum, as argparse shows plain choices."""
    return "{" + ",".join(e.value for e in enum) + "}"


def _parse(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def run(prog: str, action: Callable[[], int]) -> int:
    """Run a CLI's library call; report FmnistError / Ctrl-C on one stderr line with an exit code.

    The CLI owns its process, so it may set one warning filter: Pillow's DecompressionBombWarning,
    because runtime.images refuses those images itself with one error line of its own.
    """
    warnings.filterwarnings("ignore", message=r"Image size \(\d+ pixels\) exceeds limit",
                            category=RuntimeWarning)
    try:
        return action()
    except FmnistError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
