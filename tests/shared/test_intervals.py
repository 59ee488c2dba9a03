"""The statistics of fmnist_edge.intervals against scipy.stats on many cases, and a published example."""

import random

import pytest

from fmnist_edge.intervals import (Interval, mcnemar_p, newcombe_paired, newcombe_unpaired, paired_counts,
                                   seeds, t_quantile, wilson)

stats = pytest.importorskip("scipy.stats", reason="scipy comes with the [dev] extra (make test installs it)")


def test_wilson_matches_scipy_on_many_counts():
    rng = random.Random(0)
    for _ in range(2000):
        n = rng.choice([1, 2, 3, 7, 30, 100, 1000, 5000, 10000])
        k = rng.choice([0, n, rng.randint(0, n)])
        expected = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        got = wilson(k, n)
        assert got.low == pytest.approx(expected.low, abs=1e-12)
        assert got.high == pytest.approx(expected.high, abs=1e-12)
        assert 0.0 <= got.low <= k / n <= got.high <= 1.0


def test_wilson_is_about_half_a_point_at_93_percent_of_10000():
    low, high = wilson(9300, 10000)
    assert (high - low) / 2 * 100 == pytest.approx(0.50, abs=0.01)


def test_exact_mcnemar_matches_scipys_binomial_test():
    rng = random.Random(1)
    for _ in range(2000):
        b, c = rng.randint(0, 400), rng.randint(0, 400)
        if b + c == 0:
            assert mcnemar_p(0, 0) == 1.0
            continue
        expected = stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
        assert mcnemar_p(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)
        assert mcnemar_p(b, c) == mcnemar_p(c, b)
    assert mcnemar_p(5000, 5200) == pytest.approx(stats.binomtest(5000, 10200, 0.5).pvalue, rel=1e-9)


def test_newcombe_paired_matches_the_published_example():
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017), ch. 8:
    # the 2×2 table (59, 6 / 16, 80): difference −0.0621, 95 % CI −0.1186 to −0.0046
    low, high = newcombe_paired(59, 6, 16, 80)
    assert round(low, 4) == -0.1186 and round(high, 4) == -0.0046


def test_newcombe_unpaired_matches_the_published_example():
    # the same book, ch. 4 (Perondi et al. 2004): 7 of 34 against 1 of 34, difference 0.1765,
    # 95 % CI 0.0189 to 0.3404 (Newcombe's hybrid score interval)
    low, high = newcombe_unpaired(7, 34, 1, 34)
    assert round(low, 4) == 0.0189 and round(high, 4) == 0.3404


def test_paired_counts_a_drop_and_tells_noise_from_a_real_drop():
    noise = paired_counts(9000, 12, 10, 978)  # 2 images of 10,000
    assert noise.drop == pytest.approx(0.0002) and not noise.distinguishable
    assert noise.interval.low < 0 < noise.interval.high
    real = paired_counts(9000, 60, 10, 930)  # 50 images more wrong
    assert real.distinguishable and real.interval.low > 0
    assert real.p_value == pytest.approx(stats.binomtest(10, 70, 0.5).pvalue, rel=1e-9)
    flipped = paired_counts(9000, 10, 60, 930)
    assert flipped.interval.low == pytest.approx(-real.interval.high, abs=1e-12)


def test_t_quantile_and_seed_interval_match_scipy():
    for df in list(range(1, 61)) + [100, 250, 1000]:
        assert t_quantile(df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-12)
    values = [0.9314, 0.9297, 0.9331]
    summary = seeds(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=summary.mean, scale=stats.sem(values))
    assert summary.interval == pytest.approx(Interval(low, high), abs=1e-12)
    assert summary.std == pytest.approx(stats.tstd(values), rel=1e-12)
    assert seeds([0.9]).interval is None and seeds([0.9]).std == 0.0
