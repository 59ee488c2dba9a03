"""Shared CLI plumbing: one-line usage errors (exit 2) and one-line reports of user mistakes."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable

from .errors import FmnistError


class UsageError(Exception):
    """A combination of options that argparse alone cannot reject; reported via ``parser.error``."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized to the terminal without importing shutil: argparse makes one
    per add_argument, and shutil's import (fnmatch, bz2, lzma) is ~2 ms of a ~100 ms cold start."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS, else stdout's terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (plus the exit code 2), no usage dump."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def bounded(kind: type, low: float, high: float | None = None,
            above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` (int or float) >= ``low`` (> with ``above``), < ``high``."""
    if high is not None:
        need = f"must be in [{low:g}, {high:g})"
    elif above:
        need = "must be a positive number" if low == 0 else f"must be above {low:g}"
    else:
        need = "must be 0 or more" if low == 0 else f"must be at least {low:g}"
    what = "a whole number" if kind is int else "a number"
    top = float("inf") if high is None else high

    def parse(text: str):
        value = _parse(kind, text, what)
        # NaN fails every comparison, so it is refused with the rest
        if not ((value > low if above else value >= low) and value < top):
            raise argparse.ArgumentTypeError(f"{need}, got {value if kind is int else text}")
        return value
    return parse


positive_int = bounded(int, 1)
non_negative_int = bounded(int, 0)
positive_float = bounded(float, 0, above=True)
non_negative_float = bounded(float, 0)
unit_float = bounded(float, 0, 1)


def pixel_count(text: str) -> int:
    """argparse type: a count of pixels >= 1, e.g. ``16M``, ``500k`` or ``2000000`` (k, M: 10³, 10⁶)."""
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(cleaned[-1:], 1)
    value = bounded(float, 1)(cleaned[:-1] if factor > 1 else cleaned)
    return int(value * factor)


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive integers, e.g. ``256,128``."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated whole numbers, e.g. 256,128")
    return tuple(positive_int(p) for p in parts)


def choice(enum: type) -> dict:
    """argparse keywords for a str Enum option: ``add_argument("--x", **choice(X), default=…)``.

    An unknown value lists the valid ones; ``--help`` shows ``{a,b,c}`` as for plain choices.
    """
    def parse(text: str):
        found = member(enum, text)
        if found is None:
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {values(enum)})")
        return found
    parse.__name__ = enum.__name__
    return {"type": parse, "metavar": "{" + values(enum).replace(", ", ",") + "}"}


def choice_list(enum: type) -> dict:
    """argparse keywords for comma-separated str Enum values (``auto,numpy``), as a tuple."""
    one = choice(enum)["type"]

    def parse(text: str) -> tuple:
        return tuple(one(part) for part in text.replace(" ", "").split(",") if part) or (one(""),)
    parse.__name__ = enum.__name__
    return {"type": parse, "metavar": "{" + values(enum).replace(", ", ",") + "}[,...]"}


def member(enum: type, value):
    """The member of the str Enum ``enum`` whose value is ``value`` (or that is it), else None."""
    try:
        return enum(value)
    except ValueError:
        return None


def values(enum: type) -> str:
    """``a, b, c``: the valid values of a str Enum, for error messages."""
    return ", ".join(e.value for e in enum)


def _parse(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def own_process() -> None:
    """What a command sets in the process it owns (run() and each fmnist-serve worker call it).

    Two things of Pillow's: a warning filter for DecompressionBombWarning, because
    runtime.decoding refuses images by its own pixel limit with one error line, and the cap on
    a PNG's decompressed text (decoding.bound_png_text).
    """
    warnings.filterwarnings("ignore", message=r"Image size \(\d+ pixels\) exceeds limit",
                            category=RuntimeWarning)
    from .decoding import bound_png_text

    bound_png_text()


def run(prog: str, action: Callable[[], int]) -> int:
    """Run a CLI's library call; report FmnistError / Ctrl-C on one stderr line with an exit code."""
    own_process()
    try:
        return action()
    except FmnistError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
