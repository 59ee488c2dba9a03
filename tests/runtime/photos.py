"""Photo-like renderings of Fashion-MNIST test images, for the image-conversion tests.

Each rendering undoes the dataset's negation (a dark garment on a light background, as on a
product page or a light table), scales the garment up to 56–400 px, adds a light margin that
makes most images non-square, and saves it as RGB PNG, RGBA PNG with a transparent background,
or JPEG.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

KINDS = ("rgb-png", "rgba-png", "jpeg")


def render(image28: np.ndarray, size: int, margin: tuple[int, int], kind: str) -> bytes:
    """Encode one rendering of a uint8 28×28 dataset image; returns the file bytes."""
    garment = Image.fromarray(255 - image28).resize((size, size), Image.Resampling.BICUBIC)
    width, height = size + 2 * margin[0], size + 2 * margin[1]
    buffer = io.BytesIO()
    if kind == "rgba-png":
        alpha = Image.fromarray(image28).resize((size, size), Image.Resampling.BICUBIC)
        tile = Image.merge("RGBA", (garment, garment, garment, alpha))
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        canvas.paste(tile, margin)
        canvas.save(buffer, "PNG")
        return buffer.getvalue()
    canvas = Image.new("RGB", (width, height), (248, 246, 240))  # an off-white table
    canvas.paste(garment.convert("RGB"), margin)
    if kind == "jpeg":
        canvas.save(buffer, "JPEG", quality=90)
    else:
        canvas.save(buffer, "PNG")
    return buffer.getvalue()


def renderings(images: np.ndarray, seed: int = 0):
    """Yield (index, kind, size, file bytes) for each image with a random size, margin and kind."""
    rng = np.random.default_rng(seed)
    for i, image in enumerate(images):
        size = int(rng.integers(56, 401))
        margin = (int(rng.integers(0, size // 3 + 1)), int(rng.integers(0, size // 3 + 1)))
        kind = KINDS[i % len(KINDS)]
        yield i, kind, size, render(image, size, margin, kind)
