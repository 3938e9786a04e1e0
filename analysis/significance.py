"""significance.csv: are the differences in duration real?

Per configuration and phase, over the successful passes: a Kruskal-Wallis test across all
strategies, then every pair, Holm-corrected over the pairs of that configuration and phase, with
two effect sizes: Cliff's delta and the ratio of medians with a 95% bootstrap CI. Pairs are
oriented so that `a` is the faster strategy and `ratio` = median(b) / median(a) >= 1.

Two pairwise tests, because of how few passes a benchmark can afford:
- the two-sided Mann-Whitney U test (`p_value`, `p_holm`): no assumption about the noise, but
  its exact p-values are discrete. With 5 passes a side the smallest possible p is 2/252 =
  0.0079, and Holm over the 325 pairs of 26 strategies multiplies it by up to 325: no pair can
  reach 0.05, however far apart. It needs about 9 passes a side for that many pairs.
- Welch's t-test on log durations (`p_welch_log`, `p_welch_log_holm`): assumes the noise is
  roughly log-normal (multiplicative), as timing noise usually is, and so can show a large,
  consistent difference at 5 passes. `significant` uses it; `significant_mwu` the rank test.

With fewer than 5 successful passes in a group no p-values are printed: the `note` column says
so, and the report repeats it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import CONFIG_COLUMNS
from analysis.stats import MIN_REPEATS_FOR_TESTS, cliffs_delta, holm, ratio_of_medians_ci

ALPHA = 0.05
TOO_FEW = f"fewer than {MIN_REPEATS_FOR_TESTS} successful passes in a group: no p-values"


def _groups(part: pd.DataFrame) -> dict[str, np.ndarray]:
    ok = part[part["success"]].dropna(subset=["duration_s"])
    return {name: g["duration_s"].to_numpy(dtype=float) for name, g in ok.groupby("strategy", sort=True)}


def significance(passes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, part in passes.groupby(CONFIG_COLUMNS + ["phase"], sort=True):
        base = dict(zip(CONFIG_COLUMNS + ["phase"], key))
        groups = _groups(part)
        if len(groups) < 2:
            continue
        enough = min(len(v) for v in groups.values()) >= MIN_REPEATS_FOR_TESTS
        note = "" if enough else TOO_FEW
        kw_stat, kw_p = np.nan, np.nan
        if enough and len({x for v in groups.values() for x in v}) > 1:
            result = stats.kruskal(*groups.values())
            kw_stat, kw_p = float(result.statistic), float(result.pvalue)
        rows.append({**base, "test": "kruskal-wallis", "a": "", "b": "", "n_a": len(groups),
                     "n_b": np.nan, "statistic": kw_stat, "p_value": kw_p, "p_holm": kw_p,
                     "significant": bool(kw_p < ALPHA) if enough else np.nan,
                     "significant_mwu": bool(kw_p < ALPHA) if enough else np.nan, "note": note})
        pairs = []
        for first, second in itertools.combinations(sorted(groups), 2):
            a, b = (first, second) if np.median(groups[first]) <= np.median(groups[second]) else (second, first)
            x, y = groups[a], groups[b]
            low, high = ratio_of_medians_ci(y, x)
            pair = {**base, "test": "mann-whitney", "a": a, "b": b, "n_a": len(x), "n_b": len(y),
                    "median_a": float(np.median(x)), "median_b": float(np.median(y)),
                    "ratio": float(np.median(y) / np.median(x)) if np.median(x) else np.nan,
                    "ratio_ci_low": low, "ratio_ci_high": high,
                    "cliffs_delta": cliffs_delta(y, x), "statistic": np.nan, "p_value": np.nan,
                    "note": note}
            if enough:
                result = stats.mannwhitneyu(y, x, alternative="two-sided")
                welch = stats.ttest_ind(np.log(y), np.log(x), equal_var=False)
                pair.update(statistic=float(result.statistic), p_value=float(result.pvalue),
                            p_welch_log=float(welch.pvalue) if np.isfinite(welch.pvalue) else 1.0)
            pairs.append(pair)
        if enough:
            for pair, mwu, welch in zip(pairs, holm([p["p_value"] for p in pairs]),
                                        holm([p["p_welch_log"] for p in pairs])):
                pair.update(p_holm=float(mwu), significant_mwu=bool(mwu < ALPHA),
                            p_welch_log_holm=float(welch), significant=bool(welch < ALPHA))
        rows.extend(pairs)
    columns = [*CONFIG_COLUMNS, "phase", "test", "a", "b", "n_a", "n_b", "median_a", "median_b", "ratio",
               "ratio_ci_low", "ratio_ci_high", "cliffs_delta", "statistic", "p_value", "p_holm",
               "significant_mwu", "p_welch_log", "p_welch_log_holm", "significant", "note"]
    return pd.DataFrame(rows, columns=columns)
