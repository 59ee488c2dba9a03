"""What ``fmnist-predict`` reads: image files, folders of them, and .npy arrays of images."""

from __future__ import annotations

import os
from typing import Iterator, NamedTuple

import numpy as np

from .errors import FmnistError, first_line
from .images import DecodeLimits, Invert, load_image
from .preprocessing import IMAGE_SIZE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


class Batch(NamedTuple):  # a record, not a dataclass: 0.4 ms less at import (runtime.formats)
    """Images from one input (one for an image file, N for an .npy), or the error it gave."""

    source: str
    names: tuple[str, ...] = ()
    images: np.ndarray | None = None
    error: str | None = None


class _Error(str):
    """An input that could not be expanded: the message, in place of a file name."""


def expand(paths: list[str]) -> Iterator[str]:
    """Files as given, folders as their image and .npy files (sorted, recursive, hidden skipped).

    A folder that holds none yields an ``_Error`` instead.
    """
    for text in paths:
        if os.path.isdir(text):
            found = _folder_files(text)
            if not found:
                yield _Error(f"{text}: folder holds no images or .npy files")
            yield from found
        else:
            yield text  # named as given


def _folder_files(folder: str) -> list[str]:
    from pathlib import Path  # only for folders: pathlib costs ~3 ms of a one-image cold start

    root = Path(folder)
    return [str(p) for p in sorted(p for p in root.rglob("*") if p.is_file()
                                   and p.suffix.lower() in IMAGE_SUFFIXES | {".npy"}
                                   and not any(part.startswith(".") for part in p.relative_to(root).parts))]


def read_inputs(paths: list[str], invert: Invert = Invert.AUTO,
                limits: DecodeLimits = DecodeLimits()) -> Iterator[Batch]:
    """One Batch per input file; a bad file becomes a Batch with an error, the rest go on."""
    for item in expand(paths):
        if isinstance(item, _Error):
            yield Batch(item.split(":")[0], error=str(item))
            continue
        try:
            if os.path.splitext(item)[1].lower() == ".npy":
                images = load_npy(item)
                names = tuple(f"{item}[{i}]" for i in range(len(images) if images.ndim else 0))
                yield Batch(item, names, images)
            else:
                yield Batch(item, (item,), load_image(item, invert, limits)[np.newaxis])
        except FmnistError as exc:
            yield Batch(item, error=str(exc))


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """The array in an .npy file, one (28, 28) image made a batch of one; not pickles."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FmnistError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise FmnistError(f"{path}: not a readable .npy array ({first_line(exc, 200)})") from None
    # Shape, dtype, NaN and range are checked where every input is: Classifier.predict.
    return array[np.newaxis] if array.shape == (IMAGE_SIZE, IMAGE_SIZE) else array
