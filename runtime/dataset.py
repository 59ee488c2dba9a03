"""Fashion-MNIST reader: the four IDX files (gzipped or not), validated, numpy only.

No download happens here: the data comes from ``--data DIR``, ``$FMNIST_DATA``, the Debian
package ``dataset-fashion-mnist`` or the Keras cache, in that order.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .labels import NUM_CLASSES
from .preprocessing import IMAGE_SIZE

ENV_VAR = "FMNIST_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path("~/.keras/datasets/fashion-mnist")
FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
# IDX magic: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions.
_UBYTE = 0x08
_NDIM = {"images": 3, "labels": 1}
HOW_TO_GET = (
    "install the Debian package (sudo apt-get install dataset-fashion-mnist), "
    f"or point --data / ${ENV_VAR} at a folder holding the four IDX files "
    "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
    "t10k-labels-idx1-ubyte[.gz])"
)


@dataclass(frozen=True)
class FashionMNIST:
    """The 60k training and 10k test images (uint8, N×28×28) and labels (uint8, N)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path
    sha256: dict[str, str] = field(default_factory=dict)


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """The folders searched for the data, in order, each with where it came from."""
    found: list[tuple[str, Path]] = []
    if data_dir:
        found.append(("--data", Path(data_dir)))
    if os.environ.get(ENV_VAR):
        found.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR])))
    found.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    found.append(("Keras cache", KERAS_CACHE_DIR.expanduser()))
    return found


def find_data_dir(data_dir: str | os.PathLike | None = None, split: str = "train") -> Path:
    """Return the first folder that holds the dataset (its ``split``'s images: ``test`` for a
    folder staged with the test split alone), or raise a DatasetError saying how to get it.

    An explicit ``data_dir`` or ``$FMNIST_DATA`` that does not hold the data is an error on its own:
    silently falling back to another copy would hide the user's typo.
    """
    for origin, folder in candidate_dirs(data_dir):
        if _locate(folder, split, "images") is not None:
            return folder
        if origin.startswith(("--data", "$")):
            why = "does not exist" if not folder.is_dir() else "holds no Fashion-MNIST IDX files"
            raise DatasetError(f"data folder {folder} (from {origin}) {why}; {HOW_TO_GET}")
    raise DatasetError(f"Fashion-MNIST not found; {HOW_TO_GET}")


def split_files(data_dir: str | os.PathLike | None, split: str) -> list[Path]:
    """The images and labels files of ``split`` where the lookup finds them (to copy elsewhere)."""
    folder = find_data_dir(data_dir, split)
    found = [_locate(folder, split, kind) for kind in ("images", "labels")]
    if None in found:
        raise DatasetError(f"{folder}: the {split} split is incomplete; {HOW_TO_GET}")
    return found


def _locate(folder: Path, split: str, kind: str) -> Path | None:
    stem = FILES[(split, kind)]
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx(path: str | os.PathLike, kind: str) -> tuple[np.ndarray, str]:
    """Read one IDX file of ``kind`` "images" or "labels"; return the array and the file's sha256.

    Validates the magic number (unsigned-byte type, 3 or 1 dimensions), 28×28 image size and that
    the payload holds exactly the number of items the header declares.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        sha = hashlib.sha256(raw).hexdigest()
        data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read ({_reason(exc)})") from None
    ndim = _NDIM[kind]
    if len(data) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    if data[0:2] != b"\0\0" or data[2] != _UBYTE or data[3] != ndim:
        raise DatasetError(
            f"{path}: not an IDX {kind} file (magic {data[:4].hex()}, "
            f"expected 0000080{ndim}: unsigned bytes, {ndim} dimension{'s' * (ndim > 1)})"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if kind == "images" and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"{path}: images are {dims[1]}×{dims[2]}, expected 28×28")
    expected = int(np.prod(dims))
    payload = len(data) - (4 + 4 * ndim)
    if payload != expected:
        state = "truncated" if payload < expected else "has trailing bytes"
        raise DatasetError(f"{path}: {state}: header declares {expected} bytes, file has {payload}")
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return array, sha


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (EOFError, zlib.error)) or "gzip" in str(exc).lower():
        return f"corrupt or truncated gzip data: {exc}"
    return getattr(exc, "strerror", None) or str(exc)


def load_split(folder: Path, split: str, expected_count: int | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read and cross-check one split's images and labels from ``folder``."""
    arrays, hashes = {}, {}
    for kind in ("images", "labels"):
        path = _locate(folder, split, kind)
        if path is None:
            raise DatasetError(f"{folder}: missing {FILES[(split, kind)]}[.gz]; {HOW_TO_GET}")
        arrays[kind], hashes[path.name] = read_idx(path, kind)
    images, labels = arrays["images"], arrays["labels"]
    if len(images) != len(labels):
        raise DatasetError(f"{folder}: {split} has {len(images)} images but {len(labels)} labels")
    if expected_count is not None and len(images) != expected_count:
        raise DatasetError(f"{folder}: {split} has {len(images)} images, expected {expected_count}")
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DatasetError(f"{folder}: {split} labels go up to {labels.max()}, expected 0..9")
    return images, labels, hashes


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None,
    expected_counts: dict[str, int] | None = EXPECTED_COUNTS,
    splits: tuple[str, ...] = ("train", "test"),
) -> FashionMNIST:
    """Find and read the dataset; ``expected_counts=None`` skips the 60k/10k count check.

    ``splits=("test",)`` reads the test split alone (a benchmark needs no training images, and a
    device may have been given only those); the training arrays are then empty.
    """
    folder = find_data_dir(data_dir, splits[0])
    counts = expected_counts or {}
    arrays, hashes = {}, {}
    for split in ("train", "test"):
        if split in splits:
            *arrays[split], sha = load_split(folder, split, counts.get(split))
            hashes.update(sha)
        else:
            arrays[split] = (np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    return FashionMNIST(*arrays["train"], *arrays["test"], folder, hashes)
