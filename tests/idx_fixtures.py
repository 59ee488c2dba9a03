"""Tiny synthetic IDX files for reader tests (never a stand-in for reported results)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from fmnist_edge.runtime.dataset import FILES


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (magic 0x0000080N, big-endian dims, payload)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_dataset(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True,
                  seed: int = 0) -> dict:
    """Write all four files with random images and balanced labels; return the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[(split, "images")] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[(split, "labels")] = (np.arange(n) % 10).astype(np.uint8)
    for key, array in arrays.items():
        write_idx(folder / FILES[key], array, gz)
    return arrays


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """Write one IDX file (``.gz`` appended when gzipped); return its path."""
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path
