"""significance.csv: which differences in duration are real, from the blocked model.

Per configuration and phase, `contract.ranking` fits log(duration) = strategy + block (a block:
one shuffled round, so the machine's drift between rounds cancels) over every successful pass,
each strategy with its own noise, and the table holds:

- one row `F-test (blocked model)`: do the strategies differ at all (strategy given block, with
  one common variance: an omnibus check, not used by the ranking);
- one row per pair of the strategies compared (those with at least MIN_BLOCKS rounds, the floor
  included): `a` the faster, `ratio` = duration(b) / duration(a) from the model,
  `ratio_ci_low`/`ratio_ci_high` its 95% interval **simultaneous over all pairs of the phase**
  (Bonferroni), `p_adjusted` the p-value adjusted the same way (an interval excludes 1 exactly
  when `p_adjusted` < 0.05), `p_value` the same comparison alone (unadjusted, for reference),
  `statistic` its t (estimate over standard error; each strategy's own noise, moderated),
  `significant`, and Cliff's delta of the two strategies' own durations (descriptive). Every pair
  is tested: the simultaneous family is all pairs, so no question needs to be chosen in advance;
  `question` names the pairs people ask about (KEY_PAIRS, and each strategy that skips unchanged
  rows against the one it is a variant of: `key_pairs`) for the report.

Ranks and bands (aggregate.csv) come from the same comparisons, so a pair called different here
never shares a band, and a pair sharing no letter is always called different here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.load import CONFIG_COLUMNS, configurations, ordered_phases
from analysis.phase_ranking import phase_passes, rank_phase
from analysis.skipping import skip_pairs
from analysis.stats import cliffs_delta
from contract.ranking import ALPHA, MIN_BLOCKS, PAIR_INTERVAL, two_sided_p  # noqa: F401 (PAIR_INTERVAL re-exported)

F_TEST = "F-test (blocked model)"
PAIR_TEST = "Bonferroni over all pairs (blocked model)"
TOO_FEW = f"fewer than {MIN_BLOCKS} rounds: not compared"
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
SKIP_QUESTION = "skipping unchanged rows vs updating every row"


def key_pairs(strategies) -> list[tuple[str, str, str]]:
    """KEY_PAIRS, then each strategy that skips unchanged rows against the one it is a variant
    of (analysis.skipping), where both are among `strategies`."""
    return KEY_PAIRS + [(blind, skip, SKIP_QUESTION) for skip, blind in skip_pairs(strategies)]


COLUMNS = ["phase", "test", "question", "a", "b", "n_a", "n_b", "median_a", "median_b", "ratio",
           "ratio_ci_low", "ratio_ci_high", "cliffs_delta", "statistic", "p_value", "p_adjusted",
           "significant", "note"]


def significance(passes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for config in configurations(passes):
        for phase in ordered_phases(passes["phase"]):
            rows += _phase_rows(passes, config, phase)
    return pd.DataFrame(rows, columns=[*CONFIG_COLUMNS, *COLUMNS])


def _phase_rows(passes: pd.DataFrame, config: tuple, phase: str) -> list[dict]:
    part = phase_passes(passes, config, phase)
    if part.empty:
        return []
    ranking = rank_phase(passes, config, phase)
    model = ranking.model
    base = {**dict(zip(CONFIG_COLUMNS, config)), "phase": phase}
    durations = {s: group["duration_s"].astype(float).to_numpy() for s, group in part.groupby("strategy")}
    questions = {frozenset((one, other)): question for one, other, question in key_pairs(durations)}
    rows = [{**base, "test": F_TEST, "question": "do the strategies differ at all", "a": "", "b": "",
             "n_a": len(durations), "statistic": model.f_statistic if model else np.nan,
             "p_value": model.f_p_value if model else np.nan,
             "p_adjusted": model.f_p_value if model else np.nan,
             "significant": bool(model.f_p_value < ALPHA) if model and not math.isnan(model.f_p_value) else np.nan,
             "note": "" if model and not math.isnan(model.f_p_value) else TOO_FEW}]
    for pair, c in sorted(ranking.comparisons.items(), key=lambda kv: (kv[1].a, kv[1].b)):
        estimate, se, df = model.contrast(c.a, c.b)
        rows.append({**base, "test": PAIR_TEST, "question": questions.get(pair, ""), "a": c.a, "b": c.b,
                     "n_a": model.blocks[c.a], "n_b": model.blocks[c.b],
                     "median_a": float(np.median(durations[c.a])), "median_b": float(np.median(durations[c.b])),
                     "ratio": c.ratio, "ratio_ci_low": c.low, "ratio_ci_high": c.high,
                     "cliffs_delta": cliffs_delta(durations[c.b], durations[c.a]), "statistic": estimate / se if se > 0 else np.nan,
                     "p_value": two_sided_p(estimate, se, df), "p_adjusted": c.p_value,
                     "significant": c.significant, "note": ""})
    return rows
