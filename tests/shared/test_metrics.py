import numpy as np

import pytest

from fmnist_edge.metrics import (accuracy_ci, agreement, compare, confusion_matrix, mean_accuracy_ci, paired,
                                 per_class_accuracy)


def test_agreement_counts_drop_and_changed_images():
    labels = np.array([0, 1, 2, 3, 4])
    reference = np.array([0, 1, 2, 3, 0])  # 4 of 5 right
    model = np.array([0, 1, 2, 0, 4])  # 4 of 5 right, but differs from the reference twice
    facts = agreement(model, labels, reference)
    assert facts["accuracy"] == facts["reference_accuracy"] == 0.8
    assert facts["drop_points"] == 0.0
    assert facts["agreement"] == 0.6
    assert facts["changed_indices"] == [3, 4]
    worse = agreement(np.array([0, 1, 2, 0, 0]), labels, reference)
    assert round(worse["drop_points"], 6) == 20.0


def test_compare_adds_per_class_delta_and_confusion_difference():
    labels = np.array([0, 0, 1, 1])
    facts = compare(np.array([0, 1, 1, 1]), labels, labels)
    assert facts["changed_indices"] == [1]
    assert facts["per_class_delta_points"][:2] == [-50.0, 0.0]
    diff = np.array(facts["confusion_diff"])
    assert diff[0, 0] == -1 and diff[0, 1] == 1 and diff.sum() == 0


def test_confusion_matrix_and_recall():
    cm = confusion_matrix([0, 1, 1], [0, 1, 0], n=3)
    assert cm.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    recall = per_class_accuracy(cm)
    assert recall[:2].tolist() == [1.0, 0.5] and np.isnan(recall[2])


def test_paired_counts_the_four_cells_of_two_models_answers():
    result = paired([True, True, False, False, True], [True, False, True, False, True])
    assert (result.n, result.only_reference, result.only_model, result.drop) == (5, 1, 1, 0.0)
    with pytest.raises(ValueError):
        paired([True], [True, False])
    facts = agreement(np.array([0, 1, 2, 0, 4]), np.array([0, 1, 2, 3, 4]), np.array([0, 1, 2, 3, 0]))
    assert facts["paired"]["only_reference_right"] == 1 and facts["paired"]["only_model_right"] == 1


def test_mean_accuracy_ci_recovers_the_count_from_a_float32_mean():
    right, n = 54_999, 55_000
    mean = float(np.float32(right / n))  # Keras reports float32 means
    assert mean_accuracy_ci(mean, n) == accuracy_ci(right, n)
    assert mean_accuracy_ci(0.9, None) is None and mean_accuracy_ci(0.9, 0) is None
