"""Decoding in bounded memory: JPEGs at DCT scale, others box-reduced, the pixel limit from the header."""

import io

import numpy as np
import pytest
from PIL import Image

from fmnist_edge.runtime.decoding import WORK_SIDE, DecodeLimits, ImageTooLarge, decode_rgb, measure
from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.images import decode_image

FULL = DecodeLimits(shrink=False)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def garment(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A dark shape with some texture on an off-white table, ``size`` pixels."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    inside = ((x - width / 2) / (width / 3)) ** 2 + ((y - height / 2) / (height / 3)) ** 2 < 1
    gray = np.where(inside, 40 + (x * 7 + y * 3) % 60, 244).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, axis=2)).convert(mode)


def rgb(data: bytes, limits: DecodeLimits = DecodeLimits()) -> np.ndarray:
    return decode_rgb(io.BytesIO(data), "test", limits)


def test_phone_size_jpegs_decode_at_a_quarter_and_an_eighth():
    data = encoded(garment((1200, 900)), "JPEG", quality=90)
    assert rgb(data).shape == (225, 300, 3)
    assert rgb(data, FULL).shape == (900, 1200, 3)
    assert rgb(encoded(garment((4032, 3024)), "JPEG")).shape == (378, 504, 3)  # 12 MP at 1/8


@pytest.mark.parametrize("size, side", [((1200, 900), 225), ((600, 450), 225), ((448, 448), 224),
                                        ((447, 600), 447), ((4000, 150), 150)])
def test_the_shorter_side_stays_at_least_work_side(size, side):
    for fmt in ("JPEG", "PNG"):
        shape = rgb(encoded(garment(size), fmt)).shape
        assert min(shape[:2]) == side and (side >= WORK_SIDE or side == min(size)), (fmt, size, shape)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "PA", "1", "I;16", "I", "CMYK"])
def test_a_shrunk_decode_converts_like_the_full_size_one(mode):
    image = garment((1400, 1000), "RGB")
    if mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        image.putalpha(Image.fromarray(np.where(np.asarray(image)[..., 0] < 200, 255, 0).astype(np.uint8)))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    elif mode == "PA":
        image = image.convert("P").convert("PA")
    else:  # no dithering: dithered pixel noise averages to other corner colours at any scale
        image = image.convert(mode, dither=Image.Dither.NONE)
    fmt = "TIFF" if mode in ("CMYK", "I", "PA") else "PNG"
    data = encoded(image, fmt)
    small, full = decode_image(data, "s"), decode_image(data, "f", limits=FULL)
    assert min(rgb(data).shape[:2]) < 500  # really shrunk
    assert np.abs(small.astype(int) - full.astype(int)).mean() < 6, mode  # of 255


def test_the_limit_is_checked_from_the_header_before_decoding():
    whole = encoded(Image.new("RGB", (2000, 1000), 255), "PNG")
    header_only = whole[:60]  # IHDR and the start of IDAT: decoding it would fail
    with pytest.raises(ImageTooLarge, match=r"PNG 2,000×1,000 \(mode RGB\) counts 2,000,000 pixels of "
                       "decoder memory, over the limit of 1,999,999"):
        rgb(header_only, DecodeLimits(max_pixels=1_999_999))
    with pytest.raises(FmnistError, match="not a readable image"):
        rgb(header_only, DecodeLimits(max_pixels=2_000_000))


@pytest.mark.parametrize("mode, fmt, weight", [("L", "PNG", 0.5), ("RGB", "PNG", 1), ("RGBA", "PNG", 1.75),
                                               ("P", "GIF", 1.25), ("RGB", "WEBP", 4), ("RGB", "TIFF", 1)])
def test_each_format_counts_its_decoder_memory(mode, fmt, weight):
    data = encoded(Image.new(mode, (400, 300)), fmt)
    limit = int(400 * 300 * weight)
    assert rgb(data, DecodeLimits(max_pixels=limit)).shape == (300, 400, 3)
    with pytest.raises(ImageTooLarge, match=f"counts {limit:,} pixels"):
        rgb(data, DecodeLimits(max_pixels=limit - 1))


def test_a_baseline_jpeg_counts_at_its_decoded_scale_a_progressive_one_at_full_size():
    image = garment((1600, 1200))
    baseline, progressive = encoded(image, "JPEG"), encoded(image, "JPEG", progressive=True)
    tight = DecodeLimits(max_pixels=400 * 300)  # 1/4 scale
    assert rgb(baseline, tight).shape == (300, 400, 3)
    with pytest.raises(ImageTooLarge, match="counts 1,560,000 pixels"):  # 400×300 + 3/4 of 1600×1200
        rgb(progressive, tight)
    with pytest.raises(ImageTooLarge):
        rgb(baseline, DecodeLimits(max_pixels=400 * 300, shrink=False))
    assert rgb(progressive, DecodeLimits(max_pixels=1_560_000)).shape == (300, 400, 3)


def test_measure_reads_the_header_only():
    whole = encoded(garment((1200, 900)), "JPEG")
    assert measure(whole[:2000], "head") == 300 * 225  # the scan is cut off: never decoded
    assert measure(encoded(garment((300, 200), "L"), "PNG"), "png") == 300 * 200 // 2  # L: half
    with pytest.raises(ImageTooLarge, match="head: image too large"):
        measure(whole[:2000], "head", DecodeLimits(max_pixels=1000))
    with pytest.raises(FmnistError, match="junk: not a readable image"):
        measure(b"junk" * 10, "junk")


def test_a_rotated_large_jpeg_is_shrunk_and_turned_upright():
    upright = garment((1800, 1200))
    pixels = np.asarray(upright).copy()
    pixels[:300, :450] = 0  # a dark corner, top left, so a wrong turn shows
    upright = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° anticlockwise; a viewer turns it back
    stored = encoded(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=92)
    want = decode_image(encoded(upright, "PNG"), "upright", invert="no")
    got = decode_image(stored, "stored", invert="no")
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 4
