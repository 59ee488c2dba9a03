import numpy as np
import pytest

from fmnist_edge.splits import stratified_split


def test_stratified_split_is_balanced_fixed_and_disjoint():
    labels = np.repeat(np.arange(10), 600)
    np.random.default_rng(1).shuffle(labels)
    train, val = stratified_split(labels, 500)
    assert len(val) == 500 and len(train) == 5500
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.bincount(labels[val]), [50] * 10)
    train2, val2 = stratified_split(labels, 500)
    np.testing.assert_array_equal(val, val2)
    assert not np.array_equal(val, stratified_split(labels, 500, seed=1)[1])


def test_stratified_split_of_unbalanced_labels_keeps_the_exact_size():
    labels = np.array([0] * 70 + [1] * 20 + [2] * 10)
    _, val = stratified_split(labels, 11)
    assert len(val) == 11
    assert list(np.bincount(labels[val])) == [8, 2, 1]
    with pytest.raises(ValueError):
        stratified_split(labels, 100)
