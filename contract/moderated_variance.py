"""Each strategy's own noise, borrowing strength from the others (empirical Bayes, as limma's
`squeezeVar` / `fitFDist`: Smyth 2004, "Linear models and empirical Bayes methods for assessing
differential expression", Statistical Applications in Genetics and Molecular Biology 3(1)).

A strategy's residual variance from 3-5 rounds is itself very uncertain; assuming every strategy
is as noisy as the average (one pooled variance) is wrong the other way: a threaded or ORM
strategy really is noisier than a COPY. The sample variances s_i^2 (with d_i degrees of freedom)
are taken as draws around a common prior s0^2 with d0 degrees of freedom, both estimated from
the s_i^2 by the method of moments on their logs; each strategy's variance is then

    s~_i^2 = (d0 * s0^2 + d_i * s_i^2) / (d0 + d_i)     with d0 + d_i degrees of freedom.

When the variances agree (d0 estimated infinite) this is the pooled variance; when they differ
widely (d0 near 0) each strategy keeps its own.
"""

from __future__ import annotations

import math

import numpy as np

TINY = 1e-12  # relative: a variance of exactly 0 (made-up data) still has a logarithm


def trigamma_inverse(x: float) -> float:
    """y with trigamma(y) = x (Newton's method, as limma's trigammaInverse)."""
    from scipy.special import polygamma

    if x > 1e7:
        return 1 / math.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        tri = float(polygamma(1, y))
        step = tri * (1 - tri / x) / float(polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y


def prior(variances: np.ndarray, dfs: np.ndarray) -> tuple[float, float]:
    """(s0^2, d0) from sample variances and their degrees of freedom (all > 0); d0 is inf when
    the variances spread no more than sampling alone explains."""
    from scipy.special import digamma, polygamma

    if len(variances) < 3:
        return float("nan"), math.inf
    floor = TINY * max(float(np.max(variances)), TINY)
    logs = np.log(np.maximum(variances, floor)) - digamma(dfs / 2) + np.log(dfs / 2)
    mean = float(np.mean(logs))
    excess = float(np.var(logs, ddof=1) - np.mean(polygamma(1, dfs / 2)))
    if excess <= 0:
        return math.exp(mean), math.inf
    d0 = 2 * trigamma_inverse(excess)
    return math.exp(mean + float(digamma(d0 / 2)) - math.log(d0 / 2)), d0


def moderated(variance: float, df: float, s0: float, d0: float, pooled: float) -> float:
    """s~^2 of one strategy (the pooled variance when d0 is inf or nothing is known of its own)."""
    if math.isinf(d0) or math.isnan(s0):
        return pooled
    if df <= 0:
        return s0
    return (d0 * s0 + df * variance) / (d0 + df)
