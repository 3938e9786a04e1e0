"""Statistics used by the tables: t-intervals on log durations (scipy), Holm correction
(statsmodels), Cliff's delta.

Durations are summarised on the log scale (geometric means, ratios), where repeated timings are
close to normal and a t-interval is valid at the 3-5 repeats a run takes. Nothing is random, so
the same runs give the same numbers, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from contract.ranking import geometric_interval

MIN_REPEATS_FOR_TESTS = 3
DURATION_INTERVAL = "95% t-interval of the geometric mean"
RATIO_INTERVAL = "95% Welch t-interval of the ratio of geometric means"


def geometric_mean_ci(values) -> tuple[float, float, float]:
    """(geometric mean, low, high): the 95% t-interval of the mean of log values (scipy), valid at
    any count >= 2 if the logs are roughly normal, as repeated durations are; NaN bounds below 2.
    (A percentile bootstrap of the median is not: over 5 values it is the min-max range, with
    94% coverage at best.)"""
    data = np.asarray(values, dtype=float)
    data = data[data > 0]
    if not len(data):
        return float("nan"), float("nan"), float("nan")
    return geometric_interval(list(np.log(data)))


@dataclass(frozen=True)
class RatioTest:
    ratio: float  # geometric mean of a / geometric mean of b
    low: float
    high: float
    p_value: float  # Welch's two-sided t-test on the logs; NaN below MIN_REPEATS_FOR_TESTS a side


def ratio_test(a, b, level: float = 0.95) -> RatioTest:
    """Two independent samples (two runs, two thread counts): the ratio of their geometric means
    with the Welch t-interval of the difference of mean logs (scipy's ttest_ind, unequal
    variances), and its p-value."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = np.log(a[a > 0]), np.log(b[b > 0])
    if not len(a) or not len(b):
        return RatioTest(float("nan"), float("nan"), float("nan"), float("nan"))
    ratio = float(np.exp(a.mean() - b.mean()))
    if min(len(a), len(b)) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return RatioTest(ratio, float("nan"), float("nan"), float("nan"))
    result = stats.ttest_ind(a, b, equal_var=False)
    low, high = np.exp(result.confidence_interval(level))
    p = float(result.pvalue) if min(len(a), len(b)) >= MIN_REPEATS_FOR_TESTS else float("nan")
    return RatioTest(ratio, float(low), float(high), p)


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (statsmodels' multipletests); NaNs stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), np.nan)
    known = ~np.isnan(p)
    if known.any():
        adjusted[known] = multipletests(p[known], method="holm")[1]
    return adjusted


def cliffs_delta(a, b) -> float:
    """P(a > b) - P(a < b) over all pairs: -1 (a always smaller) .. 1 (a always larger)."""
    a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
    return float((np.sum(a > b) - np.sum(a < b)) / (a.size * b.size))


def zscores(values) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if np.isnan(v).all():
        return v
    spread = np.nanstd(v)
    return np.zeros_like(v) if not spread else (v - np.nanmean(v)) / spread
