"""significance.csv: which differences in duration are real, tested only where a test can answer.

Per configuration and phase, over the successful passes, comparisons are formed **within
blocks** (a block: one repeat of one server of one run, the shuffled round in which both
strategies ran), so slow drift of the machine cancels:

- every pair of strategies gets its effect size: `ratio` = geometric mean over common blocks of
  duration(b) / duration(a), `a` being the faster, with a 95% t-interval on the log ratios
  (`ratio_ci_low`, `ratio_ci_high`; `contract.ranking.geometric_interval`), and Cliff's delta;
- a test is run only for the questions the report asks (`question`): each strategy against the
  floor, neighbours in the ranking (by geometric mean duration), and the report's key pairs. The
  test is a paired t-test on log durations within blocks (scipy `ttest_rel`: noise roughly
  log-normal, i.e. multiplicative, as timing noise usually is), Holm-corrected over the tested
  pairs of the phase (statsmodels `multipletests`). It needs at least MIN_BLOCKS_FOR_TESTS
  common blocks; with fewer the `note` says so and there is no p-value. Other pairs carry no
  p-value: testing all 300+ pairs would leave no power after the correction.
A Kruskal-Wallis test across all strategies comes first (`test` = `kruskal-wallis`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import CONFIG_COLUMNS
from analysis.stats import cliffs_delta, holm
from contract.ranking import geometric_interval

ALPHA = 0.05
MIN_BLOCKS_FOR_TESTS = 3
TOO_FEW = f"fewer than {MIN_BLOCKS_FOR_TESTS} common repeats: no p-value"
KEY_PAIRS = [  # the questions people ask, answered whenever both strategies ran
    ("psycopg2_execute_values", "sqlalchemy_orm_merge", "batched ON CONFLICT vs the ORM's merge()"),
    ("psycopg2_copy_staging", "psycopg2_execute_values", "COPY to staging vs execute_values"),
    ("psycopg2_execute_values", "psycopg2_execute_batch", "execute_values vs execute_batch"),
    ("psycopg2_execute_batch", "psycopg2_row_by_row", "execute_batch vs one row at a time"),
    ("psycopg2_row_by_row", "psycopg2_row_by_row_autocommit", "one commit vs a commit per row"),
    ("sqlalchemy_orm_merge_threaded", "sqlalchemy_orm_merge", "threads for the ORM's merge()"),
    ("sqlalchemy_core_on_conflict", "sqlalchemy_orm_bulk_upsert", "Core vs ORM bulk upsert"),
    ("psycopg2_copy_merge", "psycopg2_copy_staging", "MERGE vs ON CONFLICT after COPY"),
]
COLUMNS = ["phase", "test", "question", "a", "b", "n_a", "n_b", "blocks", "median_a", "median_b", "ratio",
           "ratio_ci_low", "ratio_ci_high", "cliffs_delta", "statistic", "p_value", "p_holm",
           "significant", "note"]


def _blocks(part: pd.DataFrame) -> dict[str, dict]:
    """{strategy: {block: seconds}} of the successful passes."""
    ok = part[part["success"]].dropna(subset=["duration_s"])
    server = ok["server"].fillna("") if "server" in ok else ok["backend"]
    keys = list(zip(ok["run_id"], server, ok["repeat"]))
    blocks: dict[str, dict] = {}
    for key, strategy, seconds in zip(keys, ok["strategy"], ok["duration_s"].astype(float)):
        if seconds > 0:
            blocks.setdefault(strategy, {})[key] = seconds
    return blocks


def questions(part: pd.DataFrame, blocks: dict[str, dict]) -> dict[frozenset, str]:
    """The pairs a test is run for, and why."""
    floors = sorted(set(part.loc[part["reference"], "strategy"]) & set(blocks))
    order = sorted((s for s in blocks if s not in floors),
                   key=lambda s: (np.mean(np.log(list(blocks[s].values()))), s))
    asked: dict[frozenset, str] = {}
    for one, other, question in KEY_PAIRS:
        if one in blocks and other in blocks:
            asked[frozenset((one, other))] = f"key pair: {question}"
    for faster, slower in zip(order, order[1:]):
        asked.setdefault(frozenset((faster, slower)), "neighbours in the ranking")
    for floor in floors:
        for strategy in order:
            asked.setdefault(frozenset((floor, strategy)), "against the floor")
    return asked


def _pair(base: dict, blocks: dict[str, dict], one: str, other: str) -> dict:
    x, y = blocks[one], blocks[other]
    a, b = (one, other) if np.median(list(x.values())) <= np.median(list(y.values())) else (other, one)
    xa, xb = blocks[a], blocks[b]
    common = sorted(set(xa) & set(xb), key=str)
    logs = [math.log(xb[k] / xa[k]) for k in common]
    ratio, low, high = geometric_interval(logs) if logs else (np.nan, np.nan, np.nan)
    return {**base, "test": "effect size", "question": "", "a": a, "b": b, "n_a": len(xa), "n_b": len(xb),
            "blocks": len(common), "median_a": float(np.median(list(xa.values()))),
            "median_b": float(np.median(list(xb.values()))), "ratio": ratio, "ratio_ci_low": low,
            "ratio_ci_high": high, "cliffs_delta": cliffs_delta(list(xb.values()), list(xa.values())),
            "statistic": np.nan, "p_value": np.nan, "p_holm": np.nan, "significant": np.nan, "note": "",
            "_logs": ([math.log(xb[k]) for k in common], [math.log(xa[k]) for k in common])}


def _test(pair: dict, question: str) -> None:
    pair.update(test="paired t-test (log)", question=question)
    slow, fast = pair["_logs"]
    if pair["blocks"] < MIN_BLOCKS_FOR_TESTS:
        pair["note"] = TOO_FEW
        return
    diffs = np.subtract(slow, fast)
    if np.ptp(diffs) == 0:  # no spread: the t statistic is undefined; identical or a fixed ratio
        pair.update(statistic=np.nan, p_value=1.0 if diffs[0] == 0 else 0.0)
        return
    result = stats.ttest_rel(slow, fast)
    pair.update(statistic=float(result.statistic), p_value=float(result.pvalue))


def significance(passes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for key, part in passes.groupby(CONFIG_COLUMNS + ["phase"], sort=True):
        base = dict(zip(CONFIG_COLUMNS + ["phase"], key))
        blocks = _blocks(part)
        if len(blocks) < 2:
            continue
        groups = [list(v.values()) for v in blocks.values()]
        kw_stat = kw_p = np.nan
        if min(len(g) for g in groups) >= MIN_BLOCKS_FOR_TESTS and len({x for g in groups for x in g}) > 1:
            result = stats.kruskal(*groups)
            kw_stat, kw_p = float(result.statistic), float(result.pvalue)
        rows.append({**base, "test": "kruskal-wallis", "question": "do the strategies differ at all",
                     "a": "", "b": "", "n_a": len(blocks), "statistic": kw_stat, "p_value": kw_p,
                     "p_holm": kw_p, "significant": bool(kw_p < ALPHA) if not np.isnan(kw_p) else np.nan,
                     "note": "" if not np.isnan(kw_p) else TOO_FEW})
        asked = questions(part, blocks)
        names = sorted(blocks)
        pairs = [_pair(base, blocks, one, other) for i, one in enumerate(names) for other in names[i + 1:]]
        tested = []
        for pair in pairs:
            question = asked.get(frozenset((pair["a"], pair["b"])))
            if question:
                _test(pair, question)
                if not np.isnan(pair["p_value"]):
                    tested.append(pair)
        for pair, adjusted in zip(tested, holm([p["p_value"] for p in tested])):
            pair.update(p_holm=float(adjusted), significant=bool(adjusted < ALPHA))
        for pair in pairs:
            pair.pop("_logs")
        rows.extend(pairs)
    return pd.DataFrame(rows, columns=[*CONFIG_COLUMNS, *COLUMNS])
