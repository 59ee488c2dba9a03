import numpy as np

from fmnist_edge.runtime.quantize import QuantParams, dequantize, is_pixel_shift, quantize_images


def test_pixel_shift_fast_path_equals_the_arithmetic():
    images = np.resize(np.arange(256, dtype=np.uint8).repeat(4), (2, 28, 28))
    params = QuantParams(1 / 255, -128, "int8")
    assert is_pixel_shift(params)
    fast = quantize_images(images, params)
    slow = np.clip(np.round(images.astype(np.float32)[..., None] / 255 / params.scale) - 128,
                   -128, 127).astype(np.int8)
    assert fast.dtype == np.int8 and fast.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast.reshape(-1)[3:6], [-128, -127, -127])  # pixel - 128


def test_general_parameters_are_applied_not_assumed():
    images = np.full((1, 28, 28), 255, np.uint8)
    params = QuantParams(1 / 100, 10, "uint8")
    assert not is_pixel_shift(params)
    q = quantize_images(images, params)
    assert q.dtype == np.uint8 and int(q.max()) == 110  # round(1.0 / 0.01) + 10
    np.testing.assert_allclose(dequantize(q, params), 1.0, atol=1e-6)
    assert int(quantize_images(np.zeros((1, 28, 28), np.uint8), params).max()) == 10
