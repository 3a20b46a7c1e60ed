"""Mean and 95 % confidence interval over seeds (Student's t): the numbers the tables print and the
error bars the plots draw.

The half-width is ``t_{0.975, n-1} · s / √n`` with the sample standard deviation ``s``; a single value has
no interval (NaN). A paired comparison of two methods (:func:`paired_ci`) takes the per-seed differences
``d_k = a_k − b_k`` over the seeds both have and gives their mean ± the same t interval: seeds share data
order, initialisation and teacher, so pairing removes the variance the two runs of one seed have in common.
:func:`detectable_difference` is the design's power: the smallest true paired difference that n seeds with
the observed spread of differences detect (two-sided 5 % test) with 80 % probability.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.stats


def t_quantile(df: int) -> float:
    """t_{0.975, df}, the two-sided 95 % Student-t quantile; NaN for df <= 0."""
    if df <= 0:
        return math.nan
    return float(scipy.stats.t.ppf(0.975, df))


def mean_ci(values: Iterable[float | None]) -> tuple[float, float, int]:
    """(mean, 95 % CI half-width, n) of the non-missing values; the half-width is NaN for one value."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, 0
    half = t_quantile(len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan
    return float(x.mean()), float(half), len(x)


def ci_interval(values: Iterable[float]) -> tuple[float, float]:
    """(low, high) of the mean ± 95 % CI, for seaborn's ``errorbar=`` (no bar for a single value)."""
    mean, half, _ = mean_ci(values)
    half = 0.0 if math.isnan(half) else half
    return mean - half, mean + half


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def paired_differences(
    a: Mapping[object, float | None] | Sequence[float | None],
    b: Mapping[object, float | None] | Sequence[float | None],
) -> dict[object, float]:
    """``{key: a[key] − b[key]}`` over the keys (seeds) both have a value for, in sorted key order.

    Two mappings pair on their keys; two sequences pair by position (they must have the same length).
    """
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = sorted(set(a) & set(b))
        pairs = [(k, a[k], b[k]) for k in keys]
    elif isinstance(a, Mapping) or isinstance(b, Mapping):
        raise TypeError("paired_differences pairs two mappings (by key) or two sequences (by position)")
    else:
        a, b = list(a), list(b)
        if len(a) != len(b):
            raise ValueError(f"paired sequences differ in length ({len(a)} vs {len(b)})")
        pairs = [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))]
    return {k: float(x) - float(y) for k, x, y in pairs if _finite(x) and _finite(y)}


def paired_ci(
    a: Mapping[object, float | None] | Sequence[float | None],
    b: Mapping[object, float | None] | Sequence[float | None],
) -> tuple[float, float, int]:
    """(mean difference a − b, 95 % CI half-width of the paired differences, number of pairs).

    The interval is ``t_{0.975, n-1} · s_d / √n`` with ``s_d`` the standard deviation of the per-seed
    differences (:func:`paired_differences`); NaN for a single pair, ``(nan, nan, 0)`` for none.
    """
    return mean_ci(paired_differences(a, b).values())


def detectable_difference(sd: float, n: int, power: float = 0.8) -> float:
    """The minimum detectable paired difference ``(t_{0.975, n-1} + t_{power, n-1}) · sd / √n``.

    ``sd``: the standard deviation of the per-seed differences; ``n``: the number of pairs. A true
    difference this large is found by the two-sided 95 % paired t-test with probability ``power``
    (the usual normal-approximation formula with Student quantiles); NaN for n < 2.
    """
    if n < 2 or not _finite(sd):
        return math.nan
    quantiles = t_quantile(n - 1) + float(scipy.stats.t.ppf(power, n - 1))
    return quantiles * sd / math.sqrt(n)


def seeds_for_half_width(sd: float, target: float, most: int = 1000) -> int | None:
    """The fewest seeds n (≥ 2) whose 95 % half-width ``t_{0.975, n-1} · sd / √n`` is ≤ ``target``;
    None when ``sd`` is not finite or more than ``most`` seeds would be needed."""
    if not _finite(sd):
        return None
    for n in range(2, most + 1):
        if t_quantile(n - 1) * sd / math.sqrt(n) <= target:
            return n
    return None
