"""The blocked model's ranking (`contract.ranking`) of one configuration and phase of a table of
passes: the one place where aggregate.csv, significance.csv, the report and the figures get their
`x floor`, ranks, bands and pairwise comparisons, so they cannot disagree."""

from __future__ import annotations

import pandas as pd

from analysis.load import CONFIG_COLUMNS
from contract.ranking import Ranking, rank, wrote_less


def phase_passes(passes: pd.DataFrame, config: tuple, phase: str) -> pd.DataFrame:
    """The successful passes of one configuration and phase."""
    mask = passes["success"].astype(bool) & (passes["phase"] == phase)
    for column, value in zip(CONFIG_COLUMNS, config):
        mask &= passes[column] == value
    return passes[mask]


def blocks(rows: pd.DataFrame) -> list[tuple]:
    """One block per shuffled round: (run, server, repeat)."""
    server = rows["server"].fillna("") if "server" in rows else rows["backend"]
    return list(zip(rows["run_id"], server, rows["repeat"]))


def parallel(rows: pd.DataFrame) -> frozenset[str]:
    """Strategies whose passes opened several connections (median of the `connections` column
    above 1): they can keep several server processes busy and may beat the single-connection
    floor. A strategy opening two connections one after the other counts too (conservative:
    it is then not flagged, never wrongly flagged)."""
    if "connections" not in rows:
        return frozenset()
    medians = rows.groupby("strategy")["connections"].median()
    return frozenset(medians[medians > 1].index)


def may_beat_floor(rows: pd.DataFrame) -> frozenset[str]:
    """`parallel`, and the strategies that wrote under half the floor's WAL (`wrote_less`)."""
    if "wal_bytes" not in rows:
        return parallel(rows)
    wal = {s: pd.to_numeric(g, errors="coerce").dropna().tolist() for s, g in rows.groupby("strategy")["wal_bytes"]}
    return parallel(rows) | wrote_less(wal, set(rows.loc[rows["reference"].astype(bool), "strategy"]))


def rank_phase(passes: pd.DataFrame, config: tuple, phase: str) -> Ranking:
    rows = phase_passes(passes, config, phase)
    return rank(list(zip(blocks(rows), rows["strategy"], rows["duration_s"].astype(float), rows["reference"])),
                parallel=may_beat_floor(rows))
