"""Statistics used by the tables: bootstrap CIs (scipy), Holm correction (statsmodels), Cliff's delta.

Every random draw is seeded, so the same runs give the same numbers, byte for byte.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

SEED = 20_261_125
N_RESAMPLES = 9_999
MIN_REPEATS_FOR_TESTS = 5


def _median(sample, axis=-1):
    return np.median(sample, axis=axis)


def median_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the median; NaNs when there are fewer than 3 values or no spread."""
    data = np.asarray(values, dtype=float)
    if len(data) < 3 or np.ptp(data) == 0:
        value = float(np.median(data)) if len(data) else float("nan")
        return (value, value) if len(data) >= 3 else (float("nan"), float("nan"))
    result = stats.bootstrap((data,), _median, confidence_level=level, n_resamples=N_RESAMPLES,
                             method="percentile", rng=np.random.default_rng(SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def ratio_of_medians_ci(a, b, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of median(a) / median(b), the two samples resampled independently."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or len(b) < 3:
        return float("nan"), float("nan")

    def ratio(x, y, axis=-1):
        return np.median(x, axis=axis) / np.median(y, axis=axis)

    result = stats.bootstrap((a, b), ratio, confidence_level=level, n_resamples=N_RESAMPLES,
                             method="percentile", paired=False,
                             rng=np.random.default_rng(SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


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
