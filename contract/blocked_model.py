"""The blocked model: every strategy's effect estimated from all passes of one configuration and
phase at once.

    log(duration) = strategy effect + block effect + noise

A **block** is one shuffled round: one repeat on one server of one run, in which the strategies
ran one after the other. The machine's speed drifts from round to round (on a shared 2-core host
by 0.8x-1.3x); the block effect takes that out, estimated from *every* strategy of the round, so
a ratio no longer hangs on the one floor pass of each round, and a slow round is not charged to
whichever strategy ran in it.

Fitted by least squares with numpy, in two steps: an equal-variance fit (ordinary least squares:
the same estimates, degrees of freedom and F-test as statsmodels' OLS on the same design, which a
test checks, without loading statsmodels into the harness: seconds of imports in every run), whose
residuals give each strategy's own noise, moderated toward the others'
(`contract.moderated_variance`, empirical Bayes as in limma); then weighted fits with those
variances, reweighted from their own residuals until the weights settle (a noisy strategy's
passes must not set the rounds' effects for the steady ones), from which the estimates and their
covariance come. A threaded or ORM strategy is
noisier than a COPY: one pooled variance would make its intervals too narrow and a steady
strategy's too wide. For complete rounds the estimate of a ratio is the same either way (the
geometric mean of its within-round ratios); only its uncertainty differs.
Why least squares and not a robust (M-estimator) fit: small-sample t intervals at the 3-15 rounds
a run takes, where a robust fit's intervals are asymptotic; an outlying pass widens its own
strategy's intervals (a cost paid in width, not in bias), and the schedule repeats what is unsettled.

Strategies and blocks that share no round with the rest (a disconnected part of the design)
cannot be compared with it; the fit keeps the connected part holding the most passes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from contract.moderated_variance import moderated, prior

ITERATIONS = 20  # reweightings at most (they settle in a few)
MIN_VARIANCE = 1e-10  # of log durations: a standard deviation of 0.001%, below any real timing
RANGE = 1e-8  # a strategy's variance is at least this share of the noisiest one's (a weight ratio
# beyond 1e8 would lose the noisy strategies' own uncertainty in the inversion's rounding)


@dataclass(frozen=True)
class Fit:
    strategies: list[str]  # the fitted strategies, in name order
    effects: np.ndarray  # log-scale effect of each strategy (differences are meaningful)
    covariance: np.ndarray  # of `effects` (NaN without residual degrees of freedom)
    df: int  # residual degrees of freedom of the whole fit
    sigma: float  # pooled residual standard deviation on the log scale (NaN when df is 0)
    blocks: dict[str, int]  # blocks each strategy has a pass in
    variances: dict[str, float] = field(default_factory=dict)  # each strategy's moderated variance
    dfs: dict[str, float] = field(default_factory=dict)  # ... and its degrees of freedom
    prior_df: float = math.inf  # d0 of contract.moderated_variance (inf: one pooled variance)
    block_effects: dict[object, float] = field(default_factory=dict)  # relative to the first block
    left_out: list[str] = field(default_factory=list)  # strategies outside the connected part
    # do the strategies differ at all: F statistic of strategy given block (equal variances)
    f_statistic: float = float("nan")
    f_p_value: float = float("nan")

    def index(self, strategy: str) -> int:
        return self.strategies.index(strategy)

    def contrast(self, a: str, b: str) -> tuple[float, float, float]:
        """(estimate, standard error, degrees of freedom) of log(duration b / duration a); the
        degrees of freedom are the smaller of the two strategies' (conservative)."""
        i, j = self.index(a), self.index(b)
        c = self.covariance
        variance = c[i, i] + c[j, j] - 2 * c[i, j]
        return (float(self.effects[j] - self.effects[i]), math.sqrt(max(variance, 0.0)),
                min(self.dfs.get(a, 0.0), self.dfs.get(b, 0.0)))


def _connected_part(cells: dict[tuple[str, object], float]) -> set[str]:
    """The strategies of the largest connected part of the strategy-block graph."""
    parent: dict[object, object] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for strategy, block in cells:
        parent[find(("s", strategy))] = find(("b", block))
    sizes: dict[object, int] = defaultdict(int)
    for strategy, block in cells:
        sizes[find(("s", strategy))] += 1
    biggest = max(sorted(sizes, key=str), key=lambda root: sizes[root])
    return {strategy for strategy, _ in cells if find(("s", strategy)) == biggest}


def fit(observations: list[tuple[object, str, float]]) -> Fit | None:
    """Fit the model to (block, strategy, seconds) of successful passes; None without any.
    Two passes of one strategy in one block (not made by the harness) count as their geometric
    mean."""
    logs: dict[tuple[str, object], list[float]] = defaultdict(list)
    for block, strategy, seconds in observations:
        if seconds is not None and seconds > 0:
            logs[(strategy, block)].append(math.log(seconds))
    if not logs:
        return None
    cells = {key: sum(values) / len(values) for key, values in logs.items()}
    kept = _connected_part(cells)
    left_out = sorted({s for s, _ in cells} - kept)
    cells = {key: value for key, value in cells.items() if key[0] in kept}
    strategies = sorted(kept)
    blocks = sorted({block for _, block in cells}, key=str)
    s_index = {s: i for i, s in enumerate(strategies)}
    b_index = {b: i for i, b in enumerate(blocks)}
    n, k = len(cells), len(strategies)
    x = np.zeros((n, k + len(blocks) - 1))
    y = np.zeros(n)
    for row, ((strategy, block), value) in enumerate(sorted(cells.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))):
        x[row, s_index[strategy]] = 1.0
        if b_index[block]:
            x[row, k + b_index[block] - 1] = 1.0
        y[row] = value
    beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    df = n - rank
    rows = [strategy for strategy, _ in sorted(cells, key=lambda kb: (kb[0], str(kb[1])))]
    per_strategy: dict[str, int] = defaultdict(int)
    for strategy in rows:
        per_strategy[strategy] += 1
    if df <= 0:
        return Fit(strategies, beta[:k].copy(), np.full((k, k), np.nan), 0, float("nan"), dict(per_strategy),
                   block_effects=_block_effects(beta, k, blocks), left_out=left_out)
    rss = float((y - x @ beta) @ (y - x @ beta))
    f_statistic, f_p_value = _f_test(x, y, k, rss, df) if k > 1 and rss > 0 else (float("nan"), float("nan"))
    weights = np.ones(n)
    for _ in range(ITERATIONS):  # a noisy strategy's passes must not set the rounds' effects
        residuals = y - x @ beta
        variances, dfs, prior_df = _strategy_variances(x, residuals, weights, rows, strategies, rss / df, df)
        least = max(MIN_VARIANCE, RANGE * max(variances.values()))  # steady made-up data: not 0
        variances = {s: max(v, least) for s, v in variances.items()}
        new = np.array([1 / variances[s] for s in rows])
        covariance = np.linalg.pinv(x.T @ (x * new[:, None]))
        beta = covariance @ (x.T @ (new * y))  # weighted least squares: each strategy's own noise
        settled = np.allclose(new, weights, rtol=1e-6)
        weights = new
        if settled:
            break
    return Fit(strategies, beta[:k].copy(), covariance[:k, :k], int(df), math.sqrt(rss / df), dict(per_strategy),
               variances, dfs, prior_df, _block_effects(beta, k, blocks), left_out, f_statistic, f_p_value)


def _block_effects(beta: np.ndarray, k: int, blocks: list) -> dict:
    return {block: (float(beta[k + i - 1]) if i else 0.0) for i, block in enumerate(blocks)}


def _strategy_variances(x: np.ndarray, residuals: np.ndarray, weights: np.ndarray, rows: list[str],
                        strategies: list[str], pooled: float, df: int) -> tuple[dict, dict, float]:
    """Each strategy's residual variance from the last fit (its residual degrees of freedom: the
    sum of 1 - leverage over its passes, in the fit's weights), moderated toward the others'
    (contract.moderated_variance); its degrees of freedom, at most the fit's."""
    leverage = weights * np.einsum("ij,jk,ik->i", x, np.linalg.pinv(x.T @ (x * weights[:, None])), x)
    rss: dict[str, float] = defaultdict(float)
    own_df: dict[str, float] = defaultdict(float)
    for strategy, residual, h in zip(rows, residuals, leverage):
        rss[strategy] += float(residual) ** 2
        own_df[strategy] += max(1.0 - float(h), 0.0)
    known = [s for s in strategies if own_df[s] > 0.5]
    s0, d0 = prior(np.array([rss[s] / own_df[s] for s in known]), np.array([own_df[s] for s in known]))
    variances, dfs = {}, {}
    for s in strategies:
        own = rss[s] / own_df[s] if own_df[s] > 0.5 else float("nan")
        variances[s] = moderated(own, own_df[s] if own_df[s] > 0.5 else 0.0, s0, d0, pooled)
        dfs[s] = float(df) if math.isinf(d0) else min(d0 + (own_df[s] if own_df[s] > 0.5 else 0.0), float(df))
    return variances, dfs, d0


def _f_test(x: np.ndarray, y: np.ndarray, k: int, rss: float, df: int) -> tuple[float, float]:
    """The F-test of the strategies given the blocks: the full model against blocks alone."""
    from scipy import stats

    reduced = np.column_stack([np.ones(len(y)), x[:, k:]])
    beta, _, rank, _ = np.linalg.lstsq(reduced, y, rcond=None)
    residuals = y - reduced @ beta
    extra = len(y) - rank - df  # the strategies' degrees of freedom
    if extra < 1:
        return float("nan"), float("nan")
    f = ((float(residuals @ residuals) - rss) / extra) / (rss / df)
    return float(f), float(stats.f.sf(f, extra, df))
