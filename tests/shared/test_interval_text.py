"""The compact forms every report prints: accuracy ±, the paired drop, its verdict in words."""

from fmnist_edge.intervals import paired_counts, scored_cells


def _score(both: int, only_reference: int, only_model: int, neither: int) -> dict:
    n = both + only_reference + only_model + neither
    paired = paired_counts(both, only_reference, only_model, neither).as_dict()
    return {"accuracy": (both + only_model) / n, "accuracy_ci": [0.9266, 0.9364], "paired": paired,
            "drop_points": paired["drop_points"], "agreement": 0.99, "agreement_ci": [0.988, 0.992]}


def test_scored_cells_tell_noise_from_a_real_drop():
    noise = scored_cells(_score(9300, 6, 4, 690))
    assert noise[0] == "93.04 ±0.49" and noise[3] == "99.00 ±0.20"
    assert noise[1].startswith("+0.02 [") and noise[2].startswith("within noise (p = ")
    real = scored_cells(_score(9200, 60, 4, 736))
    assert real[1].startswith("+0.56 [") and real[2] == "a real drop (p < 0.001)"
    gain = scored_cells(_score(9200, 4, 60, 736))
    assert gain[1].startswith("-0.56 [") and gain[2] == "a real gain (p < 0.001)"


def test_scored_cells_of_a_record_without_intervals_show_the_bare_figures():
    old = {"accuracy": 0.9304, "drop_points": 0.02, "agreement": 0.99}
    assert scored_cells(old) == ["93.04", "+0.02", "–", "99.00"]
    assert scored_cells({"accuracy": None, "drop_points": None}) == ["–", "–", "–", "–"]
