"""The blocked model and the ranking built on it (contract.blocked_model, contract.ranking), on
made-up durations and on the committed run folders: pure computation, no server involved."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from contract.blocked_model import fit
from contract.ranking import (ALPHA, MIN_BLOCKS, NOT_RANKED, below_floor_passes, letters, rank, t_quantile,
                              two_sided_p, wrote_less)

ROOT = Path(__file__).resolve().parent.parent


def blocks(durations: dict[str, list[float]]):
    return [(block, name, seconds, name == "floor") for name, values in durations.items()
            for block, seconds in enumerate(values) if seconds is not None]


def made_up(seed: int, strategies: int, rounds: int, spread: float = 0.05, missing: float = 0.15):
    """Durations with close effects, a drifting machine and some passes missing."""
    rng = np.random.default_rng(seed)
    effects = np.exp(np.cumsum(rng.uniform(0, 0.08, strategies)))
    drift = np.exp(rng.normal(0, 0.1, rounds))
    data = []
    for i in range(strategies):
        name = "floor" if i == 0 else f"s{i:02d}"
        for r in range(rounds):
            if i and rng.random() < missing:
                continue
            data.append((r, name, 0.1 * effects[i] * drift[r] * math.exp(rng.normal(0, spread)), i == 0))
    return data


def design(data):
    names, rounds = sorted({s for _, s, _, _ in data}), sorted({b for b, _, _, _ in data})
    x = np.array([[1.0] + [float(s == n) for n in names[1:]] + [float(b == r) for r in rounds[1:]]
                  for b, s, _, _ in data])
    return names, x, np.log([v for _, _, v, _ in data])


def test_the_fit_is_statsmodels_ols_then_wls():
    """numpy's least squares here, statsmodels on the same design: the equal-variance fit (degrees
    of freedom, residual deviation, F-test) is its OLS; the estimates and standard errors are its
    WLS with each strategy's moderated variance as known weights."""
    import statsmodels.api as sm

    data = made_up(3, 6, 5)
    model = fit([(b, s, v) for b, s, v, _ in data])
    names, x, y = design(data)
    ols = sm.OLS(y, x).fit()
    assert model.df == int(ols.df_resid) and model.sigma == pytest.approx(math.sqrt(ols.scale))
    reduced = sm.OLS(y, np.column_stack([np.ones(len(y)), x[:, len(names):]])).fit()
    f, p, _ = ols.compare_f_test(reduced)
    assert model.f_statistic == pytest.approx(f) and model.f_p_value == pytest.approx(p)
    weights = np.array([1 / model.variances[s] for _, s, _, _ in data])
    wls = sm.WLS(y, x, weights=weights).fit(cov_type="fixed scale")
    for i, name in enumerate(names[1:], start=1):
        estimate, se, _ = model.contrast(names[0], name)
        assert estimate == pytest.approx(wls.params[i]) and se == pytest.approx(wls.bse[i])


def test_each_strategy_keeps_its_own_noise_when_the_noise_differs():
    """Equal noise: one pooled variance (prior degrees of freedom infinite) or close to it; a
    strategy four times noisier than the rest: its variance stays well above theirs."""
    rng = np.random.default_rng(1)
    same = [(r, f"s{i}", math.exp(rng.normal(0, 0.03)) * (1 + i), False) for i in range(8) for r in range(6)]
    model = fit([(b, s, v) for b, s, v, _ in same])
    spread = max(model.variances.values()) / min(model.variances.values())
    assert model.prior_df > 5 and spread < 2.5  # sampling alone spreads 8 variances of 4.4 df ~4x
    noisy = [(b, s, v * (math.exp(rng.normal(0, 0.12)) if s == "s0" else 1.0), ref) for b, s, v, ref in same]
    model = fit([(b, s, v) for b, s, v, _ in noisy])
    quiet = np.median([v for s, v in model.variances.items() if s != "s0"])
    assert model.variances["s0"] > 4 * quiet


def test_a_slow_round_is_charged_to_the_round_not_to_whoever_ran_in_it():
    """The same drift in every round cancels exactly; a strategy missing the slow round is not
    made to look fast by it."""
    drift = [1.0, 1.02, 0.98, 1.4, 0.99]
    data = blocks({"floor": [0.1 * d for d in drift], "fast": [0.2 * d for d in drift],
                   "slow": [2.0 * d for d in drift], "skipped_slow_round": [0.3 * d for d in drift[:3]] + [None, 0.3 * 0.99]})
    ranked = rank(data).by_strategy()
    for name, expected in (("fast", 2.0), ("slow", 20.0), ("skipped_slow_round", 3.0)):
        entry = ranked[name]
        assert entry.floor_ratio == pytest.approx(expected)
        # exact data: the interval is the MIN_VARIANCE floor's, within 0.01%
        assert entry.floor_low == pytest.approx(expected, rel=1e-4) and entry.floor_high == pytest.approx(expected, rel=1e-4)


def test_clearly_apart_strategies_get_their_own_ranks_and_ties_share_a_band():
    rng = np.random.default_rng(5)
    jitter = lambda: [math.exp(rng.normal(0, 0.01)) for _ in range(5)]  # noqa: E731
    ranking = rank(blocks({"floor": [0.1 * j for j in jitter()], "fast": [0.2 * j for j in jitter()],
                           "fast_too": [0.2 * j for j in jitter()], "slow": [2.0 * j for j in jitter()]}))
    ranked = ranking.by_strategy()
    assert [e.strategy for e in ranking.entries][0] == "floor" and ranked["floor"].rank == "floor"
    assert ranked["fast"].rank == ranked["fast_too"].rank == "1-2"
    assert ranked["fast"].band == ranked["fast_too"].band == "a"
    assert ranked["slow"].rank == "3" and ranked["slow"].band == "b"
    assert ranking.comparisons[frozenset(("fast", "slow"))].significant
    assert not ranking.comparisons[frozenset(("fast", "fast_too"))].significant


@pytest.mark.parametrize("seed", range(30))
def test_bands_and_ranks_agree_with_the_comparisons(seed):
    """Share a letter exactly when the comparison cannot tell them apart; rank intervals from the
    same comparisons; every pair's interval excludes 1 exactly when its p < 0.05."""
    ranking = rank(made_up(seed, strategies=4 + seed % 12, rounds=3 + seed % 5))
    ranked = [e for e in ranking.entries if e.band]
    for one, other in itertools.combinations(ranked, 2):
        comparison = ranking.comparisons[frozenset((one.strategy, other.strategy))]
        assert bool(set(one.band) & set(other.band)) == (not comparison.significant)
        assert comparison.significant == (comparison.low > 1)
    effect = {e.strategy: i for i, e in enumerate(ranked)}
    for entry in ranked:
        faster = sum(1 for o in ranked if o is not entry and effect[o.strategy] < effect[entry.strategy]
                     and ranking.comparisons[frozenset((o.strategy, entry.strategy))].significant)
        assert entry.rank.split("-")[0] == str(faster + 1)


def test_the_letter_display_of_a_classic_example():
    """A < B differ, C tied with both: rank intervals would overlap (1-2, 2-3); letters do not."""
    assert letters(["A", "C", "B"], {frozenset(("A", "B"))}) == {"A": "a", "C": "ab", "B": "b"}
    assert letters(["x", "y"], set()) == {"x": "a", "y": "a"}


def test_below_the_floor_is_flagged_and_a_clear_case_is_a_suspect():
    data = blocks({"floor": [1.0, 1.01, 0.99, 1.0], "magic": [0.5, 0.52, 0.49, 0.5],
                   "close": [0.99, 1.02, 0.98, 1.01], "honest": [1.5, 1.52, 1.49, 1.5]})
    ranked = rank(data).by_strategy()
    assert ranked["magic"].suspect and ranked["magic"].rank == "suspect" and not ranked["magic"].band
    assert ranked["close"].below_floor and not ranked["close"].suspect  # within the noise
    assert ranked["honest"].rank == "2" and not ranked["honest"].below_floor
    parallel = rank(data, parallel=frozenset({"magic"})).by_strategy()["magic"]
    assert not parallel.below_floor and parallel.rank == "1"  # several connections may beat it


def test_a_strategy_that_wrote_under_half_the_floors_wal_may_beat_it():
    """A no-op upsert that leaves unchanged rows alone does less than the floor, which rewrites them."""
    wal = {"floor": [9.4e6, 9.5e6, 9.5e6], "skips": [0.2e6, 0.3e6, 0.2e6], "blind": [9.6e6, 9.7e6, 9.6e6],
           "half": [4.8e6, 4.7e6, 4.9e6], "unknown": [None, float("nan")]}
    assert wrote_less(wal, {"floor"}) == {"skips"}
    assert wrote_less({"skips": [1.0]}, {"floor"}) == frozenset()  # no floor WAL: nothing to compare with
    data = blocks({"floor": [1.0, 1.01, 0.99, 1.0], "skips": [0.4, 0.42, 0.39, 0.4]})
    ranked = rank(data, parallel=wrote_less(wal, {"floor"})).by_strategy()["skips"]
    assert ranked.rank == "1" and not ranked.suspect and ranked.floor_ratio < 0.5


def test_too_few_rounds_are_not_ranked():
    ranked = rank(blocks({"floor": [0.1, 0.1, 0.1], "a": [0.2, 0.21, 0.2], "b": [5.0, None, None],
                          "c": [0.3, 0.31, 0.3]})).by_strategy()
    assert ranked["b"].rank == NOT_RANKED and ranked["b"].band == "" and ranked["b"].floor_low is None
    assert ranked["b"].floor_ratio == pytest.approx(50.0, rel=0.1)  # its estimate is still shown
    assert ranked["a"].rank == "1" and ranked["c"].rank == "2"
    one_round = rank(blocks({"floor": [0.1], "a": [0.2], "b": [5.0]})).by_strategy()
    assert {e.rank for e in one_round.values()} == {"floor", NOT_RANKED}
    assert MIN_BLOCKS == 3


def test_strategies_that_share_no_round_with_the_rest_are_left_out():
    data = blocks({"floor": [0.1, 0.1, 0.11], "a": [0.2, 0.21, 0.2]}) + [(9, "alone", 1.0, False), (10, "alone", 1.1, False)]
    ranking = rank(data)
    assert ranking.model.left_out == ["alone"] and ranking.by_strategy()["alone"].rank == NOT_RANKED


def test_the_ranking_is_the_same_whatever_the_input_order():
    data = blocks({"floor": [1, 1.1, 0.9], "a": [2, 2.1, 1.9], "b": [4, 4.2, 3.9], "c": [4.1, 4.0, 4.3]})
    results = {tuple((e.strategy, e.rank, e.band, round(e.floor_ratio or 0, 12)) for e in rank(list(p)).entries)
               for p in itertools.islice(itertools.permutations(data), 0, 400, 37)}
    assert len(results) == 1


def test_pair_intervals_are_bonferroni_over_all_pairs_and_agree_with_their_p_values():
    ranking = rank(made_up(8, 7, 5))
    k = ranking.compared
    pairs = k * (k - 1) // 2
    assert k == 7 and len(ranking.comparisons) == pairs
    for comparison in ranking.comparisons.values():
        estimate, se, df = ranking.model.contrast(comparison.a, comparison.b)
        assert comparison.ratio == pytest.approx(math.exp(estimate))
        half = t_quantile(df, 1 - ALPHA / (2 * pairs)) * se
        assert comparison.low == pytest.approx(math.exp(estimate - half))
        assert comparison.p_value == pytest.approx(min(1.0, pairs * two_sided_p(estimate, se, df)))
        assert (comparison.low > 1) == (comparison.p_value < ALPHA) == comparison.significant


def committed_phases():
    """(set/run, configuration and phase, durations) of every committed published set."""
    from analysis.load import CONFIG_COLUMNS, load_runs
    from analysis.phase_ranking import blocks as phase_blocks, parallel

    for runs in sorted((ROOT / "figures").glob("*/runs")):
        passes = load_runs(runs, warn=lambda _: None, allow_mixed=True).passes
        ok = passes[passes["success"]]
        for key, part in ok.groupby(CONFIG_COLUMNS + ["phase"], sort=True):
            yield (runs.parent.name, key, list(zip(phase_blocks(part), part["strategy"],
                                                   part["duration_s"].astype(float), part["reference"])),
                   parallel(part))


def test_no_committed_set_has_a_band_that_contradicts_a_comparison():
    checked = 0
    for name, key, data, several in committed_phases():
        ranking = rank(data, parallel=several)
        ranked = [e for e in ranking.entries if e.band]
        for one, other in itertools.combinations(ranked, 2):
            comparison = ranking.comparisons[frozenset((one.strategy, other.strategy))]
            assert bool(set(one.band) & set(other.band)) == (not comparison.significant), (name, key, one, other)
            checked += 1
    assert checked > 1000


def test_passes_far_below_the_floor_of_their_round_are_named():
    data = blocks({"floor": [1.0, 1.0, 1.0], "a": [1.2, 0.85, 1.2], "threads": [0.5, 0.5, 0.5]})
    assert below_floor_passes(data, parallel=frozenset({"threads"})) == [(1, "a", 0.85)]
    assert len(below_floor_passes(data)) == 4  # without knowing it uses several connections
