"""Generated blocks in README.md and docs pages: ``<!-- name:begin -->`` … ``<!-- name:end -->``.

The ``--update-readme`` options of fmnist-runs, fmnist-sweep, fmnist-export, fmnist-bench and
the make targets rewrite only what stands between their markers; the rest of the file is kept.
"""

from __future__ import annotations

import os
from pathlib import Path

from fmnist_edge.runtime.atomic import write_text
from fmnist_edge.runtime.errors import FmnistError


def replace_block(path: str | os.PathLike, name: str, text: str) -> None:
    """Rewrite what stands between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in ``path``.

    Used to keep generated tables in README.md; the rest of the file is left as it was.
    """
    current, start, stop = _block(path, name)
    write_text(path, current[: start + len(f"<!-- {name}:begin -->")] + "\n" + text + "\n" +
               current[stop:])


def check_block(path: str | os.PathLike, name: str) -> None:
    """Raise FmnistError now if :func:`replace_block` could not update ``path`` later."""
    _block(path, name)


def _block(path: str | os.PathLike, name: str) -> tuple[str, int, int]:
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    try:
        current = path.read_text()
    except OSError as exc:
        raise FmnistError(f"cannot read {path}: {exc.strerror or exc}") from None
    start, stop = current.find(begin), current.find(end)
    if start < 0 or stop < start:
        raise FmnistError(f"{path}: no {begin} … {end} block to update")
    return current, start, stop
