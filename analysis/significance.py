"""significance.csv: are the differences in duration real?

Per configuration and phase, over the successful passes: a Kruskal-Wallis test across all
strategies, then every pair with a two-sided Mann-Whitney U test, Holm-corrected over the pairs
of that configuration and phase, with two effect sizes: Cliff's delta and the ratio of medians
with a 95% bootstrap CI. Pairs are oriented so that `a` is the faster strategy and
`ratio` = median(b) / median(a) >= 1 ("a is ratio x faster than b").

With fewer than 5 successful passes in a group, a rank test cannot reach the usual levels
(3 vs 3 passes: the smallest two-sided p is 0.1), so no p-values are printed: the `note`
column says so, and the report repeats it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import CONFIG
from analysis.stats import MIN_REPEATS_FOR_TESTS, cliffs_delta, holm, ratio_of_medians_ci

ALPHA = 0.05
TOO_FEW = f"fewer than {MIN_REPEATS_FOR_TESTS} successful passes in a group: no p-values"


def _groups(part: pd.DataFrame) -> dict[str, np.ndarray]:
    ok = part[part["success"]].dropna(subset=["duration_s"])
    return {name: g["duration_s"].to_numpy(dtype=float) for name, g in ok.groupby("strategy", sort=True)}


def significance(passes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, part in passes.groupby(CONFIG + ["phase"], sort=True):
        base = dict(zip(CONFIG + ["phase"], key))
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
                     "significant": bool(kw_p < ALPHA) if enough else np.nan, "note": note})
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
                pair.update(statistic=float(result.statistic), p_value=float(result.pvalue))
            pairs.append(pair)
        if enough:
            for pair, adjusted in zip(pairs, holm([p["p_value"] for p in pairs])):
                pair["p_holm"] = float(adjusted)
                pair["significant"] = bool(adjusted < ALPHA)
        rows.extend(pairs)
    columns = [*CONFIG, "phase", "test", "a", "b", "n_a", "n_b", "median_a", "median_b", "ratio",
               "ratio_ci_low", "ratio_ci_high", "cliffs_delta", "statistic", "p_value", "p_holm",
               "significant", "note"]
    return pd.DataFrame(rows, columns=columns)
