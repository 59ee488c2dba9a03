"""Image file → small RGB pixels: only what a 28×28 conversion needs, decoded in bounded memory.

The conversion (:mod:`.images`) trims to the garment and area-averages it down to 28 pixels, so
a 1200×900 phone photo's 1.1 M pixels were decoded, copied and trimmed at full size only to be
thrown away (11 of its 13 ms on an AMD EPYC). Here:

- a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg's DCT scaling (``Image.draft``), the
  largest that keeps the shorter side ≥ ``WORK_SIDE``: 1200×900 decodes as 300×225, 12 MP
  (4032×3024) as 504×378;
- anything else is decoded whole, then box-averaged by a whole factor (``Image.reduce``) to the
  same size, before any copy or conversion;
- before anything is decoded, the header says how much the decode will hold, counted in 4-byte
  pixels (an RGB PNG's pixel counts 1, a WebP's 4, a progressive JPEG adds 3/4 for each pixel
  of its full size: libjpeg buffers every DCT coefficient); more than ``max_pixels`` is
  refused (:class:`ImageTooLarge`) without decoding.

:func:`measure` reads only the header: the service uses it to decide whether an upload is a
large decode, of which it runs one at a time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .errors import FmnistError, first_line

# The shorter side kept for the conversion: a garment an eighth of a photo's short side still
# has 28 pixels. Against the full-size decode, the int8 CNN's predictions on the test set's
# garments changed for 5 of 5,000 photo-like renderings (2 right→wrong, 2 wrong→right), 24 of
# 2,500 1200×900 phone JPEGs (8 and 9) and 0 of 250 12 MP ones; 112 changed 25 of 1,500
# renderings, 9 more of them to wrong (AMD EPYC; tests/runtime/test_decode_real.py checks it).
WORK_SIDE = 224
# The pixel limit counts 4-byte pixels: what a decode holds at its peak, per pixel of the image
# (after a JPEG's DCT scaling), over 4 bytes. Measured as VmHWM over the process before decoding
# a 4000×4000 image (8000×6000 for the progressive JPEG), Pillow 13, AMD EPYC: RGB PNG/TIFF/BMP
# 3.4 bytes a pixel, L 1.1, I;16 5.4, palette 4.8 (8.6 with transparency: made RGBA, then a
# premultiplied copy for reduce), RGBA 6.8, LA 7.6, WebP 15 whatever its mode (libwebp's RGBA
# buffer and Pillow's copy); a progressive JPEG 2.9 a pixel of its full size (every DCT
# coefficient, 2 bytes, 4:2:0) on top of its decoded pixels. Rounded up to quarters:
_WEIGHT = {"1": 0.5, "L": 0.5, "I;16": 1.5, "I;16B": 1.5, "I;16L": 1.5, "P": 1.25, "RGBA": 1.75,
           "LA": 2.0, "PA": 2.25, "La": 2.0, "RGBa": 1.75}  # any other mode: 1 (4 bytes)
_WEBP, _TRANSPARENT_P, _PROGRESSIVE = 4.0, 2.25, 0.75
# 16 M counted pixels is at most 64 MB for one decode, what a 1 GB Raspberry Pi can spare for an
# upload: a 16 MP PNG, a 9 MP RGBA PNG, a 4 MP WebP, a 21 MP progressive JPEG and any baseline
# JPEG Pillow opens (up to its own 179 M: 2.8 M pixels at 1/8) fit.
DEFAULT_MAX_PIXELS = 16_000_000
# Pillow decompresses a PNG's text chunks on open, up to 64 MB in all: an 8 MB upload of zTXt
# chunks took 144 ms and 64 MB before its first pixel. An XMP packet and an ICC profile fit in 2.
PNG_TEXT_BYTES = 2 * 1024 * 1024
_CAP = {"png_text": False}  # what the process's owner asked for (bound_png_text)
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}  # EXIF Orientation → what a viewer does


class ImageTooLarge(FmnistError):
    """An image whose decode would hold more than the pixel limit, refused from its header."""


@dataclass(frozen=True)
class DecodeLimits:
    """How much an image decode may take, and whether to shrink while decoding."""

    max_pixels: int = DEFAULT_MAX_PIXELS  # counted pixels a decode may hold (4 bytes each)
    shrink: bool = True  # False: decode at full size (the reference the shrunk path is checked by)

    def __post_init__(self) -> None:
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) \
                or self.max_pixels < 1:
            raise FmnistError(f"max_pixels must be a whole number >= 1, got {self.max_pixels!r}")


def bound_png_text() -> None:
    """Cap what Pillow decompresses of a PNG's text chunks at PNG_TEXT_BYTES, process-wide.

    For a command that owns its process (cliutil.own_process calls it): the cap is a module
    global of Pillow's, so a library setting it unasked would change its host's. It is set when
    Pillow is first used here, so a run on .npy arrays never imports Pillow (8 ms of a start).
    """
    _CAP["png_text"] = True
    if "PIL.Image" in sys.modules:
        _apply_caps()


def _apply_caps() -> None:
    if _CAP["png_text"]:
        from PIL import PngImagePlugin

        PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, PNG_TEXT_BYTES)


def pil():
    """Pillow's Image module, or one line saying Pillow is missing."""
    try:
        from PIL import Image
    except ImportError:  # a core dependency, so only a broken install gets here
        raise FmnistError("Pillow is not installed; reinstall fmnist-edge (pip install fmnist-edge)") from None
    _apply_caps()
    return Image


def decode_rgb(source, name: str, limits: DecodeLimits = DecodeLimits()) -> np.ndarray:
    """The image in ``source`` (a path or a file object), upright and shrunk, as uint8 RGB.

    Raises ImageTooLarge over the limit (nothing decoded), FileNotFoundError for a missing path,
    and FmnistError, naming ``name``, for anything unreadable.
    """
    return decode_with(source, name, np.asarray, limits)


def decode_with(source, name: str, use, limits: DecodeLimits = DecodeLimits()):
    """``use(image)`` of the image in ``source`` as an upright, shrunk RGB Pillow image.

    ``use`` runs while the file is open: the image may be the decoder's own, whose pixels closing
    the file frees, so nothing is copied to hand it out (a copy and a numpy round trip were
    0.3 ms of a phone photo's 2.7 ms in the service). Raises as :func:`decode_rgb`.
    """
    Image = pil()
    try:
        image = Image.open(source)
    except Exception as exc:
        raise _one_line(exc, name, Image) from None
    with image:
        try:
            _check(image, name, limits)
            image.load()
            turn = orientation(image, name)
            small = shrink(image) if limits.shrink else image
            if turn in _TRANSPOSE:
                small = small.transpose(getattr(Image.Transpose, _TRANSPOSE[turn]))
            rgb = rgb_image(small)
        except Exception as exc:
            raise _one_line(exc, name, Image) from None
        return use(rgb)


def measure(data: bytes, name: str, limits: DecodeLimits = DecodeLimits()) -> int:
    """The pixels decoding ``data`` would count (its header only); raises as :func:`decode_rgb`."""
    import io

    Image = pil()
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _check(image, name, limits)
    except Exception as exc:
        raise _one_line(exc, name, Image) from None


def _check(image, name: str, limits: DecodeLimits) -> int:
    if limits.shrink:
        image.draft(None, (WORK_SIDE, WORK_SIDE))  # JPEG only; a no-op for other formats
    pixels = counted_pixels(image)
    if pixels > limits.max_pixels:
        raise ImageTooLarge(f"{name}: image too large: {image.format} {image.width:,}×"
                            f"{image.height:,} (mode {image.mode}) counts {pixels:,} pixels of "
                            f"decoder memory, over the limit of {limits.max_pixels:,} "
                            "(--max-pixels; a decompression-bomb guard)")
    return pixels


def _one_line(exc: Exception, name: str, Image) -> Exception:
    """What a decoding error is reported as: the FmnistError (or FileNotFoundError) to raise."""
    if isinstance(exc, (FileNotFoundError, FmnistError)):
        return exc
    if isinstance(exc, Image.DecompressionBombError):  # Pillow's own, on open: over 2× its limit
        return ImageTooLarge(f"{name}: image too large (over Pillow's limit of "
                             f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels; a decompression-bomb guard)")
    if isinstance(exc, Image.UnidentifiedImageError):  # its message names a BytesIO, not the file
        return FmnistError(f"{name}: not a readable image (not a format Pillow knows: PNG, JPEG, "
                           "WebP, …)")
    if isinstance(exc, (OSError, ValueError, SyntaxError, EOFError)):
        return FmnistError(f"{name}: not a readable image ({first_line(exc, 200)})")
    if isinstance(exc, MemoryError):
        raise exc
    # A plugin meeting hostile bytes can raise anything (struct.error, IndexError, …): still the
    # file's fault, and a service must answer it with a 400, not a 500.
    return FmnistError(f"{name}: not a readable image ({type(exc).__name__}: {first_line(exc, 200)})")


def counted_pixels(image) -> int:
    """The pixels ``image`` counts against the limit (after ``draft``): its peak memory over 4 bytes."""
    width, height = image.size
    if image.format == "WEBP":
        weight = _WEBP
    elif image.mode == "P" and "transparency" in image.info:
        weight = _TRANSPARENT_P
    else:
        weight = _WEIGHT.get(image.mode, 1.0)
    counted = width * height * weight
    if image.format == "JPEG" and image.info.get("progressive"):
        scale = (image.decoderconfig or (1,))[0]  # draft's; the header size × scale, to < 8 px
        counted += width * scale * height * scale * _PROGRESSIVE
    return int(-(-counted // 1))


def orientation(image, name: str) -> int:
    """The EXIF Orientation (1–8) a viewer applies; 1 when there is none."""
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception as exc:  # a hostile EXIF block can raise struct.error, KeyError, …
        raise FmnistError(f"{name}: unreadable EXIF orientation ({first_line(exc, 200)})") from None


def shrink(image):
    """``image`` box-averaged by the largest whole factor keeping the shorter side ≥ WORK_SIDE.

    Palette and 1-bit images are converted first (averaging palette indices means nothing);
    16-bit grayscale goes to 32-bit, which reduce() handles.
    """
    if image.mode == "P" or image.mode == "PA":
        has_alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode.startswith("I;16"):
        image = image.convert("I")
    factor = min(image.size) // WORK_SIDE
    return image.reduce(factor) if factor >= 2 else image


def to_rgb(image) -> np.ndarray:
    """Any Pillow mode → uint8 RGB array; transparency is composited onto white, as on Zalando's pages."""
    return np.asarray(rgb_image(image), dtype=np.uint8)


def rgb_image(image):
    """Any Pillow mode → an RGB Pillow image (``image`` itself when it is RGB already)."""
    Image = pil()
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit/32-bit grayscale: keep the top 8 bits
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if wide.max() > 255 else 255.0
        gray = np.clip(np.round(wide / top * 255), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    if image.mode == "P" and "transparency" in image.info or image.mode in ("LA", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image if image.mode == "RGB" else image.convert("RGB")
