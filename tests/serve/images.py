"""Image bodies for the fmnist-serve tests: synthetic garments, a truncated file, a bomb."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png(image: np.ndarray) -> bytes:
    """``image`` (uint8, 2-D or RGB) as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def synthetic(count: int, seed: int = 0) -> np.ndarray:
    """``count`` random 28×28 uint8 images: light blobs on a dark border, as in the dataset."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 4:24, 4:24] = rng.integers(0, 256, (count, 20, 20), dtype=np.uint8)
    return images


def bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A 1-bit PNG claiming ``width``×``height`` pixels (900 M by default), under 1 kB on the wire.

    Only the header matters: Pillow refuses it by size before decoding a byte of it.
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def white_png(width: int, height: int, mode: str = "RGB") -> bytes:
    """An all-white PNG: a few kB on the wire for millions of pixels decoded."""
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "white").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def phone_jpeg(image: np.ndarray, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A dark garment (a 28×28 image, negated) on an off-white table, as a phone photographs it."""
    side = size[1] * 3 // 4
    garment = Image.fromarray(255 - image).resize((side, side), Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", size, (246, 244, 238))
    canvas.paste(garment.convert("RGB"), ((size[0] - side) // 2, (size[1] - side) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()
