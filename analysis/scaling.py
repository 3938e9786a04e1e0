"""growth.csv and speedup.csv: how strategies scale, from runs at several items and threads.

Growth: per PostgreSQL version, backend, machine, threads, strategy and phase, a least-squares
fit of log10(duration) and log10(peak memory) against log10(items) over every successful pass
(scipy.stats.linregress), reported as the exponent (the slope: 1 = linear, 0 = flat) with a 95%
CI from its standard error and the t distribution. A strategy that holds all rows in memory has
a memory exponent well above a streaming one's.

Speed-up: per items and strategy, the geometric mean duration at the fewest threads divided by
the one at each thread count, with its 95% Welch t-interval (analysis.stats.ratio_test); at the
fewest threads it is 1 with no interval. Only strategies run at two or more thread counts;
`reference` marks the floor, which is not threaded and serves as a control of the drift between
runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats import RatioTest, ratio_test

PLACE = ["pg_version", "backend", "variant", "machine"]
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


def speedup(passes: pd.DataFrame) -> pd.DataFrame:
    ok = passes[passes["success"]]
    rows = []
    for key, group in ok.groupby(PLACE + ["items", "strategy", "phase"], sort=True):
        if group["threads"].nunique() < 2:
            continue
        base_threads = group["threads"].min()
        base = group[group["threads"] == base_threads]["duration_s"].to_numpy(float)
        for threads, part in group.groupby("threads"):
            durations = part["duration_s"].to_numpy(float)
            # at the base: 1 by definition, no interval against itself
            test = (RatioTest(1.0, np.nan, np.nan, np.nan) if threads == base_threads
                    else ratio_test(base, durations))
            rows.append({**dict(zip(PLACE + ["items", "strategy", "phase"], key)), "threads": int(threads),
                         "base_threads": int(base_threads), "median_duration": float(np.median(durations)),
                         "speedup": test.ratio, "ci_low": test.low, "ci_high": test.high,
                         "n": len(durations), "reference": bool(part["reference"].any())})
    return pd.DataFrame(rows)
