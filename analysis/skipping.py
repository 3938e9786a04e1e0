"""writes.csv: what each pass wrote, and what skipping unchanged rows saves.

One row per configuration x phase x strategy, over its successful passes: the medians of
`wal_bytes`, `dead_tuples` and `hot_updates` per pass and per row (the pass's rows: `items` in
each of the two tables, as `aggregate.csv`'s WAL per row), and the geometric mean duration with
its 95% t-interval (analysis.stats, as `aggregate.csv`). Written when the runs hold a strategy
that skips unchanged rows beside the one it is a variant of, which is what the table is for.

A strategy that skips unchanged rows is named after the strategy it is a variant of, with
SKIP_SUFFIX (`psycopg2_execute_values_skip_unchanged` -> `psycopg2_execute_values`): `blind`
names that counterpart (the one place the pairs come from: `blind_counterpart`), and where both
ran in the configuration and phase its row compares them: `wal_vs_blind` (median WAL over the
counterpart's), `dead_tuples_vs_blind`, and `duration_vs_blind`, the blocked model's within-round
contrast of the pair (the model analysis.phase_ranking fits for the ranking) with its 95%
t-interval (`duration_vs_blind_low`/`_high`; only when both ran the MIN_BLOCKS rounds a ranked
comparison needs).
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.load import CONFIG_COLUMNS, phase_key
from analysis.phase_ranking import rank_phase
from analysis.stats import geometric_mean_ci
from contract.ranking import MIN_BLOCKS, t_quantile

SKIP_SUFFIX = "_skip_unchanged"
CONTRAST_INTERVAL = "95% t-interval of the within-round contrast (blocked model)"
COUNTS = ("wal_bytes", "dead_tuples", "hot_updates")
COLUMNS = [*CONFIG_COLUMNS, "phase", "strategy", "technique", "reference", "blind", "n", "n_ok",
           *(f"median_{c}" for c in COUNTS), *(f"{c.removesuffix('_bytes')}_per_row" for c in COUNTS),
           "geomean_duration", "ci_low", "ci_high", "wal_vs_blind", "dead_tuples_vs_blind", "duration_vs_blind",
           "duration_vs_blind_low", "duration_vs_blind_high", "interval"]


def blind_counterpart(strategy: str) -> str | None:
    """The strategy a skipping one is a variant of (its name without SKIP_SUFFIX); None for one
    that does not skip unchanged rows."""
    return strategy.removesuffix(SKIP_SUFFIX) if strategy.endswith(SKIP_SUFFIX) else None


def skip_pairs(strategies) -> list[tuple[str, str]]:
    """(skipping strategy, its blind counterpart) for every pair of which both are among `strategies`."""
    present = set(strategies)
    return [(s, blind_counterpart(s)) for s in sorted(present) if blind_counterpart(s) in present]


def _median(series: pd.Series) -> float:
    series = pd.to_numeric(series, errors="coerce").dropna()
    return float(series.median()) if len(series) else math.nan


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def _contrast(passes: pd.DataFrame, config: tuple, phase: str, blind: str, skip: str) -> tuple[float, float, float]:
    """duration(skip) / duration(blind) from the blocked model, with its 95% t-interval."""
    model = rank_phase(passes, config, phase).model
    if model is None or blind not in model.strategies or skip not in model.strategies:
        return math.nan, math.nan, math.nan
    estimate, se, df = model.contrast(blind, skip)
    if min(model.blocks[blind], model.blocks[skip]) < MIN_BLOCKS or df < 1 or not math.isfinite(se):
        return math.exp(estimate), math.nan, math.nan
    half = t_quantile(df) * se
    return math.exp(estimate), math.exp(estimate - half), math.exp(estimate + half)


def writes(passes: pd.DataFrame) -> pd.DataFrame:
    """The table; empty when the runs hold no strategy that skips unchanged rows beside the one it
    is a variant of (what the table is for)."""
    if not skip_pairs(passes["strategy"]):
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for key, group in passes.groupby([*CONFIG_COLUMNS, "phase", "strategy"], sort=True):
        *config, phase, strategy = key
        ok = group[group["success"].astype(bool)]
        per_row = 2 * float(config[0])  # items in users and in addresses
        medians = {c: _median(ok[c]) if c in ok else math.nan for c in COUNTS}
        geomean, low, high = geometric_mean_ci(ok["duration_s"].dropna().to_numpy(dtype=float))
        rows.append({**dict(zip(CONFIG_COLUMNS, config)), "phase": phase, "strategy": strategy,
                     "technique": group["technique"].iloc[0] if "technique" in group else "",
                     "reference": bool(group["reference"].any()), "blind": blind_counterpart(strategy) or "",
                     "n": len(group), "n_ok": len(ok), **{f"median_{c}": v for c, v in medians.items()},
                     **{f"{c.removesuffix('_bytes')}_per_row": v / per_row for c, v in medians.items()},
                     "geomean_duration": geomean, "ci_low": low, "ci_high": high, "interval": "",
                     **dict.fromkeys(COLUMNS[COLUMNS.index("wal_vs_blind"):-1], math.nan)})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if table.empty:
        return table
    for index, row in table[table["blind"] != ""].iterrows():
        blind = table[(table[[*CONFIG_COLUMNS, "phase"]] == row[[*CONFIG_COLUMNS, "phase"]]).all(axis=1)
                      & (table["strategy"] == row["blind"])]
        if blind.empty or not row["n_ok"] or not blind["n_ok"].iloc[0]:
            continue
        other = blind.iloc[0]
        config = tuple(row[CONFIG_COLUMNS])
        ratio, low, high = _contrast(passes, config, row["phase"], other["strategy"], row["strategy"])
        table.loc[index, ["wal_vs_blind", "dead_tuples_vs_blind", "duration_vs_blind", "duration_vs_blind_low",
                          "duration_vs_blind_high", "interval"]] = [
            _ratio(row["median_wal_bytes"], other["median_wal_bytes"]),
            _ratio(row["median_dead_tuples"], other["median_dead_tuples"]), ratio, low, high, CONTRAST_INTERVAL]
    return table.sort_values([*CONFIG_COLUMNS, "phase", "strategy"], key=phase_key, kind="stable").reset_index(drop=True)
