"""growth.csv and speedup.csv: how strategies scale, from runs at several items and threads.

Growth: per PostgreSQL version, backend, machine, threads, strategy and phase, a least-squares
fit of log10(duration) and log10(peak memory) against log10(items) over every successful pass
(scipy.stats.linregress), reported as the exponent (the slope: 1 = linear, 0 = flat) with a 95%
CI from its standard error and the t distribution. A strategy that holds all rows in memory has
a memory exponent well above a streaming one's.

Speed-up: per items, strategy and phase, the duration at the fewest threads divided by the one
at each thread count; at the fewest threads it is 1 with no interval. Only strategies run at two
or more thread counts; `reference` marks the floor, which is not threaded: its "speed-up" is the
control (1 when the design holds). Two designs, named in the `design` column:
- `interleaved` (a run with `--threads 1,2,4`, every round holding every thread count and the
  floor): the blocked model of contract.blocked_model over all passes of those runs, each
  `strategy@threads` a unit and each round a block, so the machine's drift between rounds is
  taken out; the interval is the 95% t-interval of that one contrast (not adjusted for the
  other thread counts).
- `separate runs` (one run per thread count, as sweeps did before they interleaved): the ratio
  of geometric means with its 95% Welch t-interval (analysis.stats.ratio_test), which carries
  the drift between the runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.phase_ranking import blocks
from analysis.stats import RATIO_INTERVAL, RatioTest, ratio_test
from contract.blocked_model import fit
from contract.ranking import t_quantile, two_sided_p

PLACE = ["pg_version", "backend", "variant", "machine", "latency_ms"]
METRICS = {"duration": "duration_s", "memory": "peak_memory_mb"}


def growth(passes: pd.DataFrame) -> pd.DataFrame:
    ok = passes[passes["success"]]
    rows = []
    for key, group in ok.groupby(PLACE + ["threads", "strategy", "phase"], sort=True):
        for metric, column in METRICS.items():
            data = group[group[column].notna() & (group[column] > 0)]
            if data["items"].nunique() < 2:
                continue
            x, y = np.log10(data["items"].to_numpy(float)), np.log10(data[column].to_numpy(float))
            fit = stats.linregress(x, y)
            n = len(data)
            half = stats.t.ppf(0.975, n - 2) * fit.stderr if n > 2 else math.nan
            rows.append({**dict(zip(PLACE + ["threads", "strategy", "phase"], key)), "metric": metric,
                         "exponent": fit.slope, "ci_low": fit.slope - half, "ci_high": fit.slope + half,
                         "r2": fit.rvalue ** 2, "n": n,
                         "items": ",".join(str(int(i)) for i in sorted(data["items"].unique())),
                         "reference": bool(group["reference"].any())})
    return pd.DataFrame(rows)


INTERLEAVED, SEPARATE = "interleaved", "separate runs"
INTERVALS = {INTERLEAVED: "95% t-interval of the within-round contrast (blocked model)",
             SEPARATE: RATIO_INTERVAL}


def speedup(passes: pd.DataFrame) -> pd.DataFrame:
    ok = passes[passes["success"]]
    rows = []
    for key, group in ok.groupby(PLACE + ["items", "phase"], sort=True):
        place = dict(zip(PLACE + ["items", "phase"], key))
        counts = group.groupby("run_id")["threads"].nunique()
        interleaved = group["run_id"].isin(counts[counts > 1].index)
        rows += _within_rounds(group[interleaved], place)
        rows += _between_runs(group[~interleaved], place)
    columns = PLACE + ["items", "strategy", "phase", "threads", "base_threads", "median_duration", "speedup",
                       "ci_low", "ci_high", "n", "reference", "design", "interval"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        PLACE + ["items", "strategy", "phase", "design", "threads"], kind="stable").reset_index(drop=True)


def _row(place: dict, strategy: str, threads: int, base: int, durations, test: RatioTest, reference: bool,
         design: str) -> dict:
    return {**place, "strategy": strategy, "threads": int(threads), "base_threads": int(base),
            "median_duration": float(np.median(durations)), "speedup": test.ratio, "ci_low": test.low,
            "ci_high": test.high, "n": len(durations), "reference": reference, "design": design,
            "interval": INTERVALS[design]}


def _within_rounds(group: pd.DataFrame, place: dict) -> list[dict]:
    """Strategies at several thread counts within the same rounds: contrasts of the blocked model
    fitted to every pass of those runs (the strategies at one thread count estimate the rounds'
    effects too)."""
    if group.empty:
        return []
    units = group["strategy"] + "@" + group["threads"].astype(int).astype(str)
    model = fit(list(zip(blocks(group), units, group["duration_s"].astype(float))))
    rows = []
    for strategy, part in group.groupby("strategy", sort=True):
        counts = sorted(int(t) for t in part["threads"].unique())
        base = counts[0]
        if len(counts) < 2 or model is None or f"{strategy}@{base}" not in model.strategies:
            continue
        for threads in counts:
            durations = part[part["threads"] == threads]["duration_s"].to_numpy(float)
            if threads == base:
                test = RatioTest(1.0, np.nan, np.nan, np.nan)
            elif f"{strategy}@{threads}" not in model.strategies:
                continue
            else:  # contrast: log(duration at threads / duration at base); speed-up is its inverse
                estimate, se, df = model.contrast(f"{strategy}@{base}", f"{strategy}@{threads}")
                half = t_quantile(df) * se if df >= 1 and math.isfinite(se) else math.nan
                test = RatioTest(math.exp(-estimate), math.exp(-estimate - half), math.exp(-estimate + half),
                                 two_sided_p(abs(estimate), se, df) if df >= 1 and se > 0 else math.nan)
            rows.append(_row(place, strategy, threads, base, durations, test, bool(part["reference"].any()),
                             INTERLEAVED))
    return rows


def _between_runs(group: pd.DataFrame, place: dict) -> list[dict]:
    rows = []
    for strategy, part in group.groupby("strategy", sort=True):
        if part["threads"].nunique() < 2:
            continue
        base = part["threads"].min()
        base_durations = part[part["threads"] == base]["duration_s"].to_numpy(float)
        for threads, at in part.groupby("threads"):
            durations = at["duration_s"].to_numpy(float)
            # at the base: 1 by definition, no interval against itself
            test = (RatioTest(1.0, np.nan, np.nan, np.nan) if threads == base
                    else ratio_test(base_durations, durations))
            rows.append(_row(place, strategy, threads, base, durations, test, bool(at["reference"].any()),
                             SEPARATE))
    return rows
