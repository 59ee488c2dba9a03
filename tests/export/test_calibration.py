import numpy as np
import pytest

from fmnist_edge.export.calibration import calibration_indices
from fmnist_edge.splits import stratified_split
from fmnist_edge.runtime.errors import FmnistError


def test_calibration_is_stratified_from_training_images_only():
    labels = np.repeat(np.arange(10, dtype=np.uint8), 6000)
    picked = calibration_indices(labels, 500)
    _, validation = stratified_split(labels, 5000)
    assert len(picked) == 500 and len(np.unique(picked)) == 500
    assert np.intersect1d(picked, validation).size == 0
    np.testing.assert_array_equal(np.bincount(labels[picked]), [50] * 10)
    np.testing.assert_array_equal(picked, calibration_indices(labels, 500))  # same sample every time


def test_calibration_size_is_checked():
    labels = np.repeat(np.arange(10, dtype=np.uint8), 6000)
    with pytest.raises(FmnistError, match="between 1 and 54999"):
        calibration_indices(labels, 60_000)
