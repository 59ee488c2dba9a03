"""Choosing between candidates scored on the same validation images, knowing the noise.

On the 5,000-image validation split two candidates' accuracies differ by a few images by chance
alone (one image is 0.02 points). ``--quantize auto`` and ``--calibration auto`` rank candidates
by those scores, so a ranking by point estimate alone floats a layer, or picks a calibration
setting, to win a few images that would not repeat on other images. Here a candidate is *worse*
than another only when the images where the two disagree tell them apart: the exact McNemar test
(:mod:`fmnist_edge.intervals`) with p < 0.05. Otherwise the cheaper one is kept (fewer float
layers, the default calibration) and the report says so.
"""

from __future__ import annotations

from fmnist_edge.intervals import Paired
from fmnist_edge.metrics import paired

from .validation import RIGHT


def compare(candidate: dict, other: dict) -> Paired | None:
    """``other`` − ``candidate`` on the images both were scored on, paired (None without answers)."""
    mine, theirs = candidate.get(RIGHT), other.get(RIGHT)
    if mine is None or theirs is None:
        return None
    return paired(mine, theirs)


def told_worse(candidate: dict, other: dict) -> bool:
    """True when ``candidate`` is measurably less accurate than ``other`` on these images."""
    result = compare(candidate, other)
    if result is None:  # no per-image answers (a test's stand-in scores): by the point estimates
        return candidate["drop_points"] > other["drop_points"]
    return result.distinguishable and result.drop > 0


def public(score: dict) -> dict:
    """The score as it is written (the per-image answers left out)."""
    return {k: v for k, v in score.items() if k != RIGHT}


def budget_check(score: dict, budget: float) -> dict:
    """A drop budget, checked on the point estimate and at the paired interval's upper end."""
    interval = (score.get("paired") or {}).get("drop_ci_points")
    return {"max_drop": budget, "drop_points": score["drop_points"],
            "holds": score["drop_points"] <= budget,
            "holds_at_upper_end": None if interval is None else interval[1] <= budget,
            "upper_end_points": None if interval is None else interval[1]}


def note(kept: dict, best: dict, why: str) -> dict:
    """What the report says when the cheaper candidate was kept over the best point estimate."""
    result = compare(kept, best)
    return {"why": why, "p_value": None if result is None else result.p_value,
            "only_best_right": None if result is None else result.only_reference,
            "only_kept_right": None if result is None else result.only_model}
