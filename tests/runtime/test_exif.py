"""Phone photos: pixels stored as the sensor saw them, the display rotation in EXIF Orientation.

Each image is stored with the inverse of the transform its Orientation tag (1–8) asks for, so a
viewer that honours the tag shows it upright; load_image must see what the viewer shows.
"""

import io

import numpy as np
import pytest
from PIL import Image

from fmnist_edge.runtime.dataset import load_fashion_mnist
from fmnist_edge.runtime.images import load_image

T = Image.Transpose
# Orientation → the transform a viewer applies to the stored pixels (EXIF 2.32, Pillow's table)
SHOW = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
        6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90}
STORE = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
         6: T.ROTATE_90, 7: T.TRANSVERSE, 8: T.ROTATE_270}  # the inverse of each SHOW
LOSSLESS = {"PNG": {}, "WEBP": {"lossless": True}, "TIFF": {}}


def photo(image28: np.ndarray) -> Image.Image:
    """A dark garment on an off-white table, 112×112 (a multiple of JPEG's 16-pixel blocks)."""
    return Image.fromarray(255 - image28).resize((112, 112), Image.Resampling.BICUBIC)


def stored(upright: Image.Image, orientation: int, fmt: str, **options) -> bytes:
    """File bytes of ``upright`` stored as a camera would under ``orientation``."""
    pixels = upright.transpose(STORE[orientation]) if orientation in STORE else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    pixels.save(buffer, fmt, exif=exif, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images():
    return load_fashion_mnist().x_test[:12]


def test_the_table_stores_what_a_viewer_undoes():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for tag, show in SHOW.items():
        back = Image.fromarray(array).transpose(STORE[tag]).transpose(show)
        assert np.array_equal(np.asarray(back), array), tag


@pytest.mark.parametrize("fmt", sorted(LOSSLESS))
def test_every_orientation_in_lossless_formats_loads_upright(tmp_path, images, fmt):
    for i, image in enumerate(images[:4]):
        upright = photo(image)
        reference = tmp_path / f"{i}-upright.{fmt.lower()}"
        reference.write_bytes(stored(upright, 1, fmt, **LOSSLESS[fmt]))
        expected = load_image(reference)
        for tag in range(2, 9):
            path = tmp_path / f"{i}-{tag}.{fmt.lower()}"
            path.write_bytes(stored(upright, tag, fmt, **LOSSLESS[fmt]))
            assert np.array_equal(load_image(path), expected), (fmt, i, tag)


def upright_twin(jpeg: bytes, tag: int, path) -> None:
    """The JPEG's decoded pixels turned upright by hand and stored losslessly, with no tag."""
    with Image.open(io.BytesIO(jpeg)) as image:  # Pillow leaves JPEG pixels as stored
        image.transpose(SHOW[tag]).save(path, "PNG")


def test_rotated_jpegs_load_as_their_upright_twins(tmp_path, images):
    for i, image in enumerate(images):
        picture = photo(image).convert("RGB")
        for tag in (3, 6, 8):
            jpeg = stored(picture, tag, "JPEG", quality=90)
            (tmp_path / "r.jpg").write_bytes(jpeg)
            upright_twin(jpeg, tag, tmp_path / "u.png")
            assert np.array_equal(load_image(tmp_path / "r.jpg"), load_image(tmp_path / "u.png")), (i, tag)


@pytest.mark.slow
def test_rotated_phone_jpegs_get_the_upright_predictions(tmp_path, tutorial_export):
    from fmnist_edge.runtime.classifier import Classifier

    clf = Classifier.load(tutorial_export.out_dir)
    for tag in (3, 6, 8):
        rotated, upright = [], []
        for image in load_fashion_mnist().x_test[:200]:
            jpeg = stored(photo(image).convert("RGB"), tag, "JPEG", quality=90)
            (tmp_path / "r.jpg").write_bytes(jpeg)
            upright_twin(jpeg, tag, tmp_path / "u.png")
            rotated.append(load_image(tmp_path / "r.jpg"))
            upright.append(load_image(tmp_path / "u.png"))
        assert np.array_equal(clf.predict(np.stack(rotated)), clf.predict(np.stack(upright))), tag
