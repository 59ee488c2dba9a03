"""Decisions that know the validation noise: auto keeps fewer float layers and --calibration auto
the default setting when the better point estimate wins by a few images only, and both take the
better candidate when the validation images tell it apart."""

import numpy as np

from fmnist_edge.export import calibration_search, fallback, noise
from fmnist_edge.export.validation import RIGHT, Validation
from fmnist_edge.runtime.formats import Format

N = 5000
RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 10, N)
REFERENCE = np.where(np.arange(N) < 500, (LABELS + 1) % 10, LABELS)  # the float model: 90 % right
VALIDATION = Validation(np.zeros((N, 28, 28), np.uint8), LABELS, REFERENCE, N)


def _score(wrong: int, right: int) -> dict:
    """A candidate that gets the first ``wrong`` of the float model's right images wrong and the
    first ``right`` of its wrong ones right: nested, so two candidates disagree on few images."""
    predictions = REFERENCE.copy()
    predictions[500:500 + wrong] = (LABELS[500:500 + wrong] + 1) % 10
    predictions[:right] = LABELS[:right]
    return VALIDATION.score(np.eye(10)[predictions])


def _error(*layers):
    return {"layers": [{"layer": name, "rank_db": db} for name, db in layers]}


def _fallback(scores: dict):
    errors = {(): _error(("conv", 20), ("dense", 30), ("out", 40)),
              ("conv",): _error(("dense", 30), ("out", 40))}
    return fallback.accuracy_aware(lambda layers: (tuple(layers), errors[tuple(layers)]),
                                   lambda model: dict(scores[model]), 0.5)


def test_auto_keeps_fewer_float_layers_when_the_step_that_met_the_budget_won_by_noise():
    # all-int8 drops 0.56 (40 wrong, 12 right: 28 images), one float layer 0.44 (30, 8); the two
    # disagree on 14 images, 10 to 4: p = 0.18, and all-int8's interval reaches below 0.5
    result = _fallback({(): _score(40, 12), ("conv",): _score(30, 8)})
    assert result.met and result.kept == 0 and result.float_layers == [] and result.model == ()
    record = result.to_json(0.5)
    assert record["noise"]["p_value"] > 0.05 and "step 1 kept" in record["noise"]["why"]
    assert record["noise"]["only_best_right"] == 10 and record["noise"]["only_kept_right"] == 4
    assert record["budget"]["holds"] is False and record["budget"]["holds_at_upper_end"] is False
    assert all(RIGHT not in s["validation"] for s in record["steps"])  # nothing numpy in the manifest


def test_auto_floats_the_layer_when_the_validation_images_tell_the_steps_apart():
    # all-int8 drops 2.76 points: 138 images more wrong than one float layer, p < 1e-30
    result = _fallback({(): _score(150, 12), ("conv",): _score(30, 8)})
    assert result.met and result.kept == 1 and result.float_layers == ["conv"]
    record = result.to_json(0.5)
    assert record["noise"] is None and record["budget"]["holds"] is True


def test_calibration_auto_keeps_the_default_unless_another_setting_is_measurably_better():
    # the grid's order: 500 images (the default), 100, 2000
    scores = {500: _score(20, 5), 100: _score(25, 5), 2000: _score(15, 5)}  # 0.30, 0.40, 0.20
    record = calibration_search.search(Format.TFLITE, lambda setting: setting.samples,
                                       lambda samples: dict(scores[samples]))
    assert record["best_by_point_estimate"] == "minmax 2000 per-channel" and record["best"] == "minmax 500 per-channel"
    assert record["chosen"]["samples"] == 500 and record["noise"]["p_value"] > 0.05
    assert all(RIGHT not in row["validation"] for row in record["settings"])
    scores[500] = _score(120, 5)  # the default now 100 images worse than 2000's: told apart
    record = calibration_search.search(Format.TFLITE, lambda setting: setting.samples,
                                       lambda samples: dict(scores[samples]))
    assert record["best"] == "minmax 2000 per-channel" and "noise" not in record


def test_a_budget_is_checked_on_the_point_estimate_and_at_the_upper_end():
    check = noise.budget_check(noise.public(_score(12, 2)), 0.5)  # drop 0.20, interval to ~0.35
    assert check["holds"] and check["holds_at_upper_end"] and check["upper_end_points"] < 0.5
    check = noise.budget_check(noise.public(_score(22, 2)), 0.5)  # drop 0.40, interval past 0.5
    assert check["holds"] and not check["holds_at_upper_end"]
