"""Image files → dataset pixels: modes, polarity, cropping, and the files a user gets wrong."""

import io

import numpy as np
import pytest
from PIL import Image

from fmnist_edge.runtime.errors import FmnistError
from fmnist_edge.runtime.images import (DecodeLimits, ImageTooLarge, Invert, convert, load_image,
                                        to_rgb, trim)


def _garment(size=(60, 40), background=255, garment=30):
    """A dark rectangle 'garment' on a light background, off-centre, in a non-square image."""
    array = np.full((size[1], size[0]), background, np.uint8)
    array[5:25, 30:50] = garment
    return array


def test_dark_on_light_is_cropped_centred_and_inverted(tmp_path):
    path = tmp_path / "g.png"
    Image.fromarray(_garment()).convert("RGB").save(path)
    pixels = load_image(path)
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
    # the 20×20 garment fills the whole 28×28 after the crop, light on dark after the negation
    assert pixels[14, 14] > 200 and pixels.mean() > 180
    dataset_polarity = 255 - _garment()  # light on dark: auto leaves it as it is
    assert np.array_equal(convert(np.repeat(dataset_polarity[..., None], 3, 2)), pixels)


def test_invert_yes_and_no_override_auto():
    rgb = np.repeat(_garment()[..., None], 3, axis=2)
    auto, no, yes = (convert(rgb, v) for v in (Invert.AUTO, Invert.NO, Invert.YES))
    assert np.array_equal(auto, yes) and np.array_equal(no, 255 - yes)


def test_trim_keeps_the_content_box():
    rgb = np.repeat(_garment()[..., None], 3, axis=2)
    assert trim(rgb, (255, 255, 255)).shape == (20, 20, 3)
    blank = np.full((10, 10, 3), 255, np.uint8)
    assert trim(blank, (255, 255, 255)).shape == (10, 10, 3)  # nothing to crop to: keep all


def _numpy_trim(rgb, background):
    """The definition: rows/columns with a channel more than 5 % (12.75) from the background."""
    distance = np.abs(rgb.astype(np.int16) - np.array(background, np.int16)).max(axis=2)
    rows = np.flatnonzero((distance > 12.75).any(axis=1))
    cols = np.flatnonzero((distance > 12.75).any(axis=0))
    if rows.size == 0:
        return rgb
    return rgb[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


@pytest.mark.parametrize("pillow_from", [0, 10**9], ids=["pillow", "numpy"])
def test_trim_equals_its_definition_at_the_threshold(pillow_from, monkeypatch):
    """Both ways trim computes (Pillow's getbbox for photos, numpy for small images) crop what the
    per-pixel definition crops, also for a pixel 12 or 13 levels from the background."""
    from fmnist_edge.runtime import images

    monkeypatch.setattr(images, "PILLOW_TRIM_PIXELS", pillow_from)
    rng = np.random.default_rng(0)
    for i in range(400):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        background = tuple(int(v) for v in rng.integers(0, 256, 3))
        rgb = np.clip(np.array(background) + rng.integers(-13, 14, (h, w, 3)), 0, 255).astype(np.uint8)
        if i % 3 == 0:  # mostly background, one pixel exactly 12 or 13 away in one channel
            rgb[:] = background
            y, x, c = rng.integers(0, h), rng.integers(0, w), rng.integers(0, 3)
            rgb[y, x, c] = np.clip(background[c] + rng.choice([-13, -12, 12, 13]), 0, 255)
        np.testing.assert_array_equal(trim(rgb, background), _numpy_trim(rgb, background))

@pytest.mark.parametrize("mode", ["L", "RGB", "P", "LA", "RGBA", "I;16", "1", "CMYK"])
def test_every_common_mode_converts(tmp_path, mode):
    base = Image.fromarray(_garment()).convert("RGB")
    if mode == "I;16":
        image = Image.fromarray((np.asarray(base.convert("L")).astype(np.uint16) * 257))
    else:
        image = base.convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".png"
    path = tmp_path / f"img{suffix}"
    image.save(path)
    pixels = load_image(path)
    assert pixels.shape == (28, 28) and pixels[14, 14] > 150, mode


def test_transparent_background_is_composited_onto_white():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 10:30] = (20, 20, 20, 255)  # an opaque dark garment, transparent elsewhere
    image = Image.fromarray(rgba, "RGBA")
    rgb = to_rgb(image)
    assert tuple(rgb[0, 0]) == (255, 255, 255) and tuple(rgb[15, 15]) == (20, 20, 20)
    palette = image.convert("P")
    palette.info["transparency"] = 0
    assert to_rgb(palette).shape == (40, 40, 3)


def test_tiny_and_extreme_aspect_images():
    assert convert(np.zeros((1, 1, 3), np.uint8)).shape == (28, 28)
    line = np.full((3, 300, 3), 255, np.uint8)
    line[1, 10:290] = 0
    out = convert(line)
    assert out.shape == (28, 28) and out.max() > 100


def test_bad_image_files(tmp_path, monkeypatch):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(FmnistError, match="not a readable image"):
        load_image(text)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(buffer, "PNG")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(FmnistError, match="not a readable image"):
        load_image(truncated)
    with pytest.raises(FmnistError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (300, 300), 255).save(path)  # 90,000 pixels, compresses to a few hundred bytes
    with pytest.raises(ImageTooLarge, match="90,000 pixels of decoder memory, over the limit of 80,000"):
        load_image(path, limits=DecodeLimits(max_pixels=80_000))
    assert load_image(path, limits=DecodeLimits(max_pixels=90_000)).shape == (28, 28)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)  # 2.25× Pillow's limit: its own error
    with pytest.raises(ImageTooLarge, match="over Pillow's limit of 80,000 pixels"):
        load_image(path)
