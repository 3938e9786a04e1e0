"""aggregate.csv: one row per configuration x strategy x phase.

The original's columns (`test`, `average_duration`, `average_memory`, `success_rate`,
`z_duration`, `z_memory`) plus n, median, standard deviation, coefficient of variation, the
geometric mean with its 95% t-interval (`ci_low`, `ci_high`; analysis.stats), rows written per
second, `floor_multiple` (median duration / the floor's median: descriptive), `foreign_load`
(successful passes that ran under foreign load: contract.row.under_foreign_load), and from the blocked
model of the phase (contract.ranking, via analysis.phase_ranking): `floor_ratio` (`x floor`) with
its 95% interval, `rank` (the places a strategy could take, "2-5"; "floor", "suspect", "not
ranked"), `band` (letters: strategies sharing one cannot be told apart), `blocks` (rounds it
succeeded in), `below_floor` and `suspect`. Failed passes count in `success_rate` and nowhere else.
`median_wal_fpi` and `median_wal_fpi_bytes` (the full-page images in the pass's WAL) beside
`median_wal_bytes` only when the runs recorded them, so older sets' aggregate.csv stay as they were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.load import COMPREHENSIBILITY, CONFIG_COLUMNS, phase_key
from analysis.phase_ranking import rank_phase
from contract.row import under_foreign_load
from analysis.stats import geometric_mean_ci, zscores


def _median(series: pd.Series) -> float:
    series = series.dropna()
    return float(series.median()) if len(series) else float("nan")


def _first(group: pd.DataFrame, column: str, default=""):
    return group[column].iloc[0] if column in group and len(group) else default


# the full-page images (runs since --no-checkpoint): columns only when the passes have them
FULL_PAGES = ["wal_fpi", "wal_fpi_bytes"]


def aggregate(passes: pd.DataFrame) -> pd.DataFrame:
    full_pages = [c for c in FULL_PAGES if c in passes]
    rows = []
    for key, group in passes.groupby(CONFIG_COLUMNS + ["strategy", "phase"], sort=True):
        *config, strategy, phase = key
        ok = group[group["success"]]
        durations = ok["duration_s"].dropna().to_numpy(dtype=float)
        memory = ok["peak_memory_mb"].dropna().to_numpy(dtype=float)
        median = float(np.median(durations)) if len(durations) else float("nan")
        mean = float(np.mean(durations)) if len(durations) else float("nan")
        std = float(np.std(durations, ddof=1)) if len(durations) > 1 else float("nan")
        geomean, low, high = geometric_mean_ci(durations)
        _, memory_low, memory_high = geometric_mean_ci(memory)
        rows.append({
            **dict(zip(CONFIG_COLUMNS, config)),
            "strategy": strategy, "phase": phase, "test": f"{strategy}-{phase}",
            "library": _first(group, "library"), "technique": _first(group, "technique"),
            "reference": bool(group["reference"].any()),
            "n": len(group), "n_ok": len(ok), "success_rate": len(ok) / len(group),
            "average_duration": mean, "median_duration": median, "std_duration": std,
            "cv_duration": std / mean if mean else float("nan"),
            "geomean_duration": geomean, "ci_low": low, "ci_high": high,
            "rows_per_s": 2 * config[0] / median if median else float("nan"),
            "average_memory": float(np.mean(memory)) if len(memory) else float("nan"),
            "median_memory": float(np.median(memory)) if len(memory) else float("nan"),
            "memory_ci_low": memory_low, "memory_ci_high": memory_high,
            "median_max_rss_mb": _median(ok.get("max_rss_mb", pd.Series(dtype=float))),
            "median_wal_bytes": _median(ok.get("wal_bytes", pd.Series(dtype=float))),
            **{f"median_{c}": _median(ok[c]) for c in full_pages},
            "median_connections": _median(ok.get("connections", pd.Series(dtype=float))),
            "median_statements": _median(ok.get("statements", pd.Series(dtype=float))),
            "median_wal_per_row": _median(ok.get("wal_bytes", pd.Series(dtype=float))) / (2 * config[0]),
            "median_dead_tuples": _median(ok.get("dead_tuples", pd.Series(dtype=float))),
            "median_hot_updates": _median(ok.get("hot_updates", pd.Series(dtype=float))),
            "median_table_bytes": _median(ok.get("table_bytes", pd.Series(dtype=float))),
            **{c: _first(group, c, None) for c in COMPREHENSIBILITY},
            **time_split(ok),
            "foreign_load": int(sum(under_foreign_load(f, w) for f, w in zip(
                ok.get("foreign_cpu_s", pd.Series(dtype=float)), ok.get("wall_s", pd.Series(dtype=float)))
                if f == f and w == w)),  # NaN: not recorded
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    parts = []
    for key, part in table.groupby(CONFIG_COLUMNS + ["phase"], sort=True):
        part = part.copy()
        floor = part.loc[part["reference"] & (part["n_ok"] > 0), "median_duration"]
        part["floor_multiple"] = part["median_duration"] / floor.iloc[0] if len(floor) else float("nan")
        ranked = rank_phase(passes, key[:-1], key[-1]).by_strategy()
        for column, attribute, missing in RANK_COLUMNS:
            part[column] = part["strategy"].map(
                lambda s, a=attribute, m=missing: m if s not in ranked or getattr(ranked[s], a) is None
                else getattr(ranked[s], a))
        part["z_duration"] = zscores(part["average_duration"])
        part["z_memory"] = zscores(part["average_memory"])
        parts.append(part)
    table = pd.concat(parts).sort_values(CONFIG_COLUMNS + ["phase", "median_duration"], key=phase_key, kind="stable")
    order = [*CONFIG_COLUMNS, "test", "strategy", "phase", "library", "technique", "reference", "n", "n_ok",
             "success_rate", "average_duration", "median_duration", "std_duration", "cv_duration",
             "geomean_duration", "ci_low", "ci_high", "rows_per_s", "floor_multiple", "rank", "band", "blocks",
             "floor_ratio", "floor_ratio_low", "floor_ratio_high", "below_floor", "suspect", "average_memory",
             "median_memory", "memory_ci_low", "memory_ci_high", "z_duration", "z_memory",
             "median_max_rss_mb", "median_wal_bytes", *[f"median_{c}" for c in full_pages],
             "median_wal_per_row", "median_table_bytes",
             "median_dead_tuples", "median_hot_updates", "median_connections", "median_statements",
             *COMPREHENSIBILITY, *TIME_SPLIT, "foreign_load"]
    return table[order].reset_index(drop=True)


# (column, contract.ranking.Ranked attribute, value when the strategy has none)
RANK_COLUMNS = [("rank", "rank", ""), ("band", "band", ""), ("blocks", "blocks", 0),
                ("floor_ratio", "floor_ratio", float("nan")), ("floor_ratio_low", "floor_low", float("nan")),
                ("floor_ratio_high", "floor_high", float("nan")), ("below_floor", "below_floor", False),
                ("suspect", "suspect", False)]


TIME_SPLIT = ["median_client_cpu_s", "median_server_cpu_s", "median_background_cpu_s", "median_other_s",
              "median_overlap_s"]


def time_split(ok: pd.DataFrame) -> dict:
    """Where a strategy's time goes, medians over its successful passes: CPU of its own process
    during main(), CPU of the server's backends, of the server's background processes (runs with
    the manifest's `cpu_split` `main-only`), the rest of the duration (waiting: round trips, locks,
    I/O) and the overlap (client and server CPU beyond the duration: work done at once by several
    processes, e.g. several connections), per pass before the median; `other` and `overlap` are
    never both above 0 in a pass. In runs before `cpu_split`, server CPU also spans the timed
    process's start-up and the settle wait, so `overlap` there mostly measures that. NaN where a
    run did not record them."""
    if "client_cpu_s" not in ok or "server_cpu_s" not in ok:
        return dict.fromkeys(TIME_SPLIT, float("nan"))
    rest = ok["duration_s"] - ok["client_cpu_s"] - ok["server_cpu_s"]
    background = ok["background_cpu_s"] if "background_cpu_s" in ok else pd.Series(dtype=float)
    return {"median_client_cpu_s": _median(ok["client_cpu_s"]),
            "median_server_cpu_s": _median(ok["server_cpu_s"]),
            "median_background_cpu_s": _median(background),
            "median_other_s": _median(rest.clip(lower=0)), "median_overlap_s": _median((-rest).clip(lower=0))}
