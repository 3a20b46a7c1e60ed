"""Mean ± 95 % CI and paired differences over seeds, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from dualaction_lib.stats import detectable_difference, mean_ci, paired_ci, paired_differences, t_quantile


def test_mean_ci_uses_student_t() -> None:
    mean, half, n = mean_ci([0.5, 0.6, 0.7])
    assert n == 3 and mean == pytest.approx(0.6)
    assert half == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-6)
    mean, half, n = mean_ci([0.4, None, math.nan])
    assert mean == 0.4 and math.isnan(half) and n == 1
    assert mean_ci([])[2] == 0
    # published t_{0.975, df} (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2), to six decimals
    for df, published in ((1, 12.706205), (2, 4.302653), (4, 2.776445), (11, 2.200985), (40, 2.021075)):
        assert t_quantile(df) == pytest.approx(published, abs=1e-6)
    assert math.isnan(t_quantile(0))


def test_paired_ci_pairs_on_shared_seeds() -> None:
    # seeds 1-3 shared; seed 4 only in b. d = (0.10, 0.15, 0.05): mean 0.10,
    # s_d = sqrt((0 + 0.05² + 0.05²) / 2) = 0.05, half-width = t(0.975, 2) · 0.05 / √3 = 4.302653 · 0.028868
    a = {1: 0.60, 2: 0.70, 3: 0.65}
    b = {1: 0.50, 2: 0.55, 3: 0.60, 4: 0.90}
    assert paired_differences(a, b) == pytest.approx({1: 0.10, 2: 0.15, 3: 0.05})
    mean, half, n = paired_ci(a, b)
    assert (mean, n) == (pytest.approx(0.10), 3)
    assert half == pytest.approx(0.124207, abs=1e-6)


def test_pairing_removes_what_the_seeds_share() -> None:
    # Both methods vary a lot over seeds (0.5 … 0.9) but a beats b on every seed by 0.04 … 0.06:
    # d = (0.05, 0.04, 0.06), mean 0.05, s_d = 0.01, half-width = 4.302653 · 0.01 / √3 = 0.024841.
    a, b = [0.50, 0.70, 0.90], [0.45, 0.66, 0.84]
    mean, half, n = paired_ci(a, b)
    assert (mean, half, n) == (pytest.approx(0.05), pytest.approx(0.024841, abs=1e-6), 3)
    assert mean - half > 0, "the paired interval excludes 0"
    (mean_a, half_a, _), (mean_b, half_b, _) = mean_ci(a), mean_ci(b)
    assert mean_a - half_a < mean_b + half_b, "while the two unpaired intervals overlap"


def test_paired_ci_edge_cases() -> None:
    mean, half, n = paired_ci({1: 0.7, 2: None}, {1: 0.5, 2: 0.4})
    assert (mean, n) == (pytest.approx(0.2), 1) and math.isnan(half), "one pair: no interval"
    mean, half, n = paired_ci({1: 0.7}, {2: 0.5})
    assert n == 0 and math.isnan(mean) and math.isnan(half)
    with pytest.raises(ValueError, match="differ in length"):
        paired_ci([0.1, 0.2], [0.1])
    with pytest.raises(TypeError, match="two mappings"):
        paired_ci({1: 0.1}, [0.1])


def test_detectable_difference_against_published_quantiles() -> None:
    # n = 5 pairs, s_d = 2 points: (t_{0.975,4} + t_{0.80,4}) · 2 / √5 = (2.776445 + 0.940965) · 0.894427
    assert detectable_difference(2.0, 5) == pytest.approx((2.776445 + 0.940965) * 2 / math.sqrt(5), rel=1e-5)
    # n = 10, 90 % power: t_{0.975,9} = 2.262157, t_{0.90,9} = 1.383029
    assert detectable_difference(1.0, 10, 0.9) == pytest.approx(
        (2.262157 + 1.383029) / math.sqrt(10), rel=1e-5
    )
    assert math.isnan(detectable_difference(1.0, 1)) and math.isnan(detectable_difference(math.nan, 5))
