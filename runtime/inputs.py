"""What ``fmnist-predict`` reads: image files, folders of them, and .npy arrays of images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import FmnistError, first_line
from .images import DecodeLimits, Invert, load_image
from .preprocessing import IMAGE_SIZE

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


@dataclass(frozen=True)
class Batch:
    """Images from one input (one for an image file, N for an .npy), or the error it gave."""

    source: str
    names: tuple[str, ...] = ()
    images: np.ndarray | None = None
    error: str | None = None


def expand(paths: list[str]) -> Iterator[Path | str]:
    """Files as given, folders as their image and .npy files (sorted, recursive, hidden skipped)."""
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file()
                           and p.suffix.lower() in IMAGE_SUFFIXES | {".npy"}
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                yield f"{path}: folder holds no images or .npy files"
            yield from found
        else:
            yield path


def read_inputs(paths: list[str], invert: Invert = Invert.AUTO,
                limits: DecodeLimits = DecodeLimits()) -> Iterator[Batch]:
    """One Batch per input file; a bad file becomes a Batch with an error, the rest go on."""
    for item in expand(paths):
        if isinstance(item, str):
            yield Batch(item.split(":")[0], error=item)
            continue
        try:
            if item.suffix.lower() == ".npy":
                images = load_npy(item)
                names = tuple(f"{item}[{i}]" for i in range(len(images) if images.ndim else 0))
                yield Batch(str(item), names, images)
            else:
                yield Batch(str(item), (str(item),), load_image(item, invert, limits)[np.newaxis])
        except FmnistError as exc:
            yield Batch(str(item), error=str(exc))


def load_npy(path: Path) -> np.ndarray:
    """The array in an .npy file, one (28, 28) image made a batch of one; not pickles."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FmnistError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise FmnistError(f"{path}: not a readable .npy array ({first_line(exc, 200)})") from None
    # Shape, dtype, NaN and range are checked where every input is: Classifier.predict.
    return array[np.newaxis] if array.shape == (IMAGE_SIZE, IMAGE_SIZE) else array
