"""Atomic writes: a temp file (or folder) beside the target, renamed into place only when complete.

An interrupted run (Ctrl-C, an exception, a full disk) therefore never leaves a half-written file
under a final name; at worst a hidden ``.<name>.tmp-*`` leftover, which the next write ignores.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success rename it to ``target``, else delete it.

    ``suffix`` keeps a file extension that writers insist on (Keras wants ``.keras``).
    """
    target = Path(target)
    import tempfile  # here, not at import: a cold start that writes nothing never pays for it

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (fsync before the rename)."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def make_staging_dir(final: str | os.PathLike, what: str = "output folder") -> Path:
    """Create a hidden staging folder beside ``final`` to build a whole output folder in.

    Raises FmnistError (exit 2) naming ``what`` when the parent cannot be written.
    """
    from .errors import FmnistError

    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    except OSError as exc:
        raise FmnistError(f"cannot write the {what} {final}: {exc.strerror or exc}") from None


def publish_dir(staging: str | os.PathLike, final: str | os.PathLike) -> None:
    """Swap a completed staging folder in as ``final``; any previous ``final`` is removed after.

    Readers see either the old complete folder or the new complete one, never a mix.
    """
    import shutil
    import tempfile

    staging, final = Path(staging), Path(final)
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / final.name)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
