"""How sure an accuracy is: 95 % intervals, and the paired test of a drop. Pure Python (math).

Every accuracy fmnist-edge writes is a count of right answers out of n images, so its noise is
binomial: a 93 % accuracy on the 10,000 test images has a 95 % interval of about ±0.5 points,
on one class's 1,000 images ±1.6, on the 5,000-image validation split ±0.7.

- **Accuracy, agreement**: the Wilson score interval (Wilson 1927). It keeps its coverage at
  small n and near 100 %, where the textbook p ± 1.96·√(p(1−p)/n) undercovers and can pass 1.
- **A drop** between two models scored on the same images is paired: only the images where
  they disagree carry information, b that only the reference gets right and c only the model.
  The exact McNemar test (two-sided binomial test of b out of b + c at ½) says whether the
  drop can be told from zero; Newcombe's square-and-add interval (Newcombe 1998, method 10:
  each accuracy's Wilson interval, corrected for their correlation) bounds it.
- **Seeds**: mean, sample standard deviation, and Student's t interval of the mean.

No numpy or scipy: the device path ([litert] only) computes these too. tests/shared/
test_intervals.py checks them against scipy.stats on many cases and a published example.
"""

from __future__ import annotations

import math
from typing import NamedTuple

LEVEL = 0.95  # every interval here is two-sided 95 %
Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
ALPHA = 1 - LEVEL  # a paired test's p below this: the two models are told apart


class Interval(NamedTuple):
    """A 95 % interval, in the unit of its estimate (a fraction for accuracies)."""

    low: float
    high: float

    def half_width(self) -> float:
        return (self.high - self.low) / 2


class Paired(NamedTuple):
    """Two models on the same n images: the reference's drop to the model, tested paired."""

    n: int
    only_reference: int  # images the reference gets right and the model wrong (b)
    only_model: int  # images the model gets right and the reference wrong (c)
    drop: float  # reference − model accuracy, a fraction: (b − c) / n
    interval: Interval  # Newcombe's 95 % interval of the drop
    p_value: float  # exact McNemar, two-sided

    @property
    def distinguishable(self) -> bool:
        """True when the drop (or gain) is more than the noise of these n images."""
        return self.p_value < ALPHA

    def as_dict(self) -> dict:
        """For json reports: counts, the drop and its interval in points, p, the verdict."""
        return {"n": self.n, "only_reference_right": self.only_reference,
                "only_model_right": self.only_model, "drop_points": self.drop * 100,
                "drop_ci_points": [self.interval.low * 100, self.interval.high * 100],
                "mcnemar_p": self.p_value, "distinguishable": self.distinguishable}


def wilson(successes: int, n: int) -> Interval:
    """The Wilson score 95 % interval of ``successes`` out of ``n`` (as fractions)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}")
    p, z2 = successes / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at 0 or n successes one side is exactly 0 or 1; rounding can leave 1e-17 beyond it
    return Interval(0.0 if successes == 0 else max(0.0, centre - half),
                    1.0 if successes == n else min(1.0, centre + half))


def mcnemar_p(only_reference: int, only_model: int) -> float:
    """The exact McNemar test's two-sided p: b of b + c discordant images, against ½ each."""
    m = only_reference + only_model
    if m == 0:
        return 1.0
    k = min(only_reference, only_model)
    term, tail = 1, 0  # exact integers: C(m, i) summed for i ≤ k, over 2^m
    for i in range(k + 1):
        tail += term
        term = term * (m - i) // (i + 1)
    return min(1.0, 2 * tail / (1 << m))


def newcombe_paired(both: int, only_first: int, only_second: int, neither: int) -> Interval:
    """Newcombe's (1998, method 10) 95 % interval of p1 − p2 for paired successes.

    ``both`` pairs succeed twice, ``only_first`` only in the first, ``only_second`` only in the
    second, ``neither`` not at all; p1 = (both + only_first) / n, p2 = (both + only_second) / n.
    """
    a, b, c, d = both, only_first, only_second, neither
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    spread = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c  # the correlation's numerator, with Newcombe's continuity correction
    corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0)
    phi = corrected / math.sqrt(spread) if spread > 0 else 0.0
    low = (p1 - p2) - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                                    + (u2 - p2) ** 2))
    high = (p1 - p2) + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1)
                                     + (u1 - p1) ** 2))
    return Interval(max(-1.0, low), min(1.0, high))


def newcombe_unpaired(right1: int, n1: int, right2: int, n2: int) -> Interval:
    """Newcombe's (1998, method 10) 95 % interval of p1 − p2 for two independent proportions.

    For accuracies of different models whose per-image answers were not kept: on the same images
    it is conservative (their positive correlation would narrow a paired interval).
    """
    p1, p2 = right1 / n1, right2 / n2
    l1, u1 = wilson(right1, n1)
    l2, u2 = wilson(right2, n2)
    return Interval(max(-1.0, (p1 - p2) - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
                    min(1.0, (p1 - p2) + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def paired_counts(both: int, only_reference: int, only_model: int, neither: int) -> Paired:
    """Two models on the same images, from the four counts of their 2×2 table (right/wrong each)."""
    n = both + only_reference + only_model + neither
    return Paired(n, only_reference, only_model, (only_reference - only_model) / n,
                  newcombe_paired(both, only_reference, only_model, neither),
                  mcnemar_p(only_reference, only_model))


def t_quantile(df: int) -> float:
    """Student's t 97.5 % quantile for ``df`` ≥ 1 degrees of freedom (a 95 % interval's factor)."""
    if df < 1:
        raise ValueError(f"need at least 1 degree of freedom, got {df}")
    low, high = 0.0, 64.0  # t(1) is 12.7; P(|T| < 64) > 0.95 for every df ≥ 1
    for _ in range(80):  # bisection to below 1e-15 of the quantile
        middle = (low + high) / 2
        low, high = (middle, high) if _t_central(middle, df) < LEVEL else (low, middle)
    return (low + high) / 2


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with an integer ``df``: the closed-form finite series."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:  # odd: 2/π (θ + sinθ cosθ (1 + 2/3 cos²θ + 2·4/3·5 cos⁴θ + …))
        term, total = math.cos(theta), 0.0
        for k in range(1, (df - 1) // 2 + 1):
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 0.0  # even: sinθ (1 + 1/2 cos²θ + 1·3/2·4 cos⁴θ + …)
    for k in range(1, df // 2 + 1):
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return s * total


class SeedSummary(NamedTuple):
    """Accuracies of one recipe trained with several seeds."""

    values: tuple[float, ...]
    mean: float
    std: float  # the sample standard deviation (n − 1); 0.0 for one seed
    interval: Interval | None  # the t interval of the mean; None for one seed


def seeds(values) -> SeedSummary:
    """Mean, standard deviation and 95 % t interval of the mean of ``values`` (one per seed)."""
    values = tuple(float(v) for v in values)
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return SeedSummary(values, mean, 0.0, None)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(n - 1) * std / math.sqrt(n)
    return SeedSummary(values, mean, std, Interval(mean - half, mean + half))


# The words and compact forms every report uses (json keeps the bounds themselves).
def plus_minus(ci) -> str:
    """``±0.60``: half an accuracy interval's width, in points (``ci``: [low, high] fractions).

    The Wilson interval is slightly asymmetric; the half width is what a reader compares.
    """
    return f"±{(ci[1] - ci[0]) * 50:.2f}"


def accuracy_text(accuracy: float | None, ci) -> str:
    """``89.67 ±0.60`` (points), or the bare figure when there is no interval."""
    if accuracy is None:
        return "–"
    return f"{accuracy * 100:.2f}" + (f" {plus_minus(ci)}" if ci else "")


def drop_text(paired: dict | None, drop_points: float | None = None) -> str:
    """``+0.02 [−0.10, +0.14]``: the drop and its paired 95 % interval, in points.

    Without a paired record (a report written before intervals) the bare ``drop_points``.
    """
    if not paired:
        return "–" if drop_points is None else f"{drop_points:+.2f}"
    low, high = paired["drop_ci_points"]
    return f"{paired['drop_points']:+.2f} [{low:+.2f}, {high:+.2f}]"


def verdict(paired: dict | None) -> str:
    """In words: whether a drop can be told from zero on these images (exact McNemar)."""
    if not paired:
        return "–"
    p = paired["mcnemar_p"]
    shown = "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.995 else "p = 1"
    if not paired["distinguishable"]:
        return f"within noise ({shown})"
    return f"{'a real drop' if paired['drop_points'] > 0 else 'a real gain'} ({shown})"


SCORED = ["accuracy % ±95 %", "drop pt [95 %]", "drop vs noise", "agreement % ±95 %"]


def scored_cells(score: dict) -> list[str]:
    """The four cells of a score against its reference: accuracy ±, paired drop, verdict, agreement ±."""
    return [accuracy_text(score.get("accuracy"), score.get("accuracy_ci")),
            drop_text(score.get("paired"), score.get("drop_points")), verdict(score.get("paired")),
            accuracy_text(score.get("agreement"), score.get("agreement_ci"))]
