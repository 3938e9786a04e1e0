"""cost.csv: what a strategy costs per call and per item, from runs at several sizes.

A power law over 1,000-1,000,000 items (growth.csv's exponent) mostly describes the fixed costs:
the local slope of `psycopg_copy_binary` drifts 0.64 -> 0.93 -> 1.04 from size to size. A fixed +
per-item model says what a reader needs:

    duration = fixed + per_item x items

per PostgreSQL version, backend, variant, machine, threads, strategy and phase, fitted by least
squares on relative errors (each pass weighted by 1 / the median duration at its size squared, so
that the 1,000-item passes count as much as the 100,000-item ones) over the sizes up to FIT_UP_TO;
reported as `fixed_ms` and `per_item_us` with 95% percentile intervals from BOOTSTRAP resamples
(stratified by size: at each size its runs are resampled whole when there are two or more, else
its rounds, since passes of one round share the server's state). Sizes above FIT_UP_TO are the
check: `check_items`, the model's prediction there over the measured geometric mean
(`check_ratio`; 1 = the model holds, above 1 = it overestimates), and `check_table_mb`, the size
of both tables and their indexes there (beyond the server's shared_buffers, 128 MB unless the
manifest says otherwise, pages are read from and written to the OS cache). The resampling uses a
fixed seed: the same runs give the same bytes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

PLACE = ["pg_version", "backend", "variant", "machine", "latency_ms", "threads", "strategy", "phase"]
FIT_UP_TO = 100_000
BOOTSTRAP = 400
SEED = 20261130
COLUMNS = [*PLACE, "fixed_ms", "fixed_ms_low", "fixed_ms_high", "per_item_us", "per_item_us_low",
           "per_item_us_high", "sizes", "n", "check_items", "check_ratio", "check_table_mb", "reference"]


def _fit(items: np.ndarray, seconds: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    """(fixed s, per-item s) minimising the squared relative residuals (closed form)."""
    w = 1 / scale ** 2
    sw, sx, sy = w.sum(), (w * items).sum(), (w * seconds).sum()
    sxx, sxy = (w * items * items).sum(), (w * items * seconds).sum()
    per_item = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    return float((sy - per_item * sx) / sw), float(per_item)


def _units(data: pd.DataFrame) -> list[list[np.ndarray]]:
    """Per size, the positions of each resampling unit: whole runs when the size has two or
    more, else its rounds."""
    groups = []
    for _, at_size in data.groupby("items", sort=True):
        by = ["run_id"] if at_size["run_id"].nunique() >= 2 else ["run_id", "repeat"]
        groups.append([part.index.to_numpy() for _, part in at_size.groupby(by, sort=True)])
    return groups


def _bootstrap(data: pd.DataFrame, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    units = _units(data)
    items, seconds = data["items"].to_numpy(float), data["duration_s"].to_numpy(float)
    fits = []
    for _ in range(BOOTSTRAP):
        rows = np.concatenate([size[i] for size in units for i in rng.integers(0, len(size), len(size))])
        fits.append(_fit(items[rows], seconds[rows], scale[rows]))
    return np.array(fits)


def cost_model(passes: pd.DataFrame) -> pd.DataFrame:
    ok = passes[passes["success"] & passes["duration_s"].notna() & (passes["duration_s"] > 0)]
    rows = []
    rng = np.random.default_rng(SEED)
    for key, group in ok.groupby(PLACE, sort=True):
        fitted = group[group["items"] <= FIT_UP_TO]
        if fitted["items"].nunique() < 2:
            continue
        fitted = fitted.reset_index(drop=True)
        scale = fitted.groupby("items")["duration_s"].transform("median").to_numpy(float)
        fixed, per_item = _fit(fitted["items"].to_numpy(float), fitted["duration_s"].to_numpy(float), scale)
        low, high = np.percentile(_bootstrap(fitted, scale, rng), [2.5, 97.5], axis=0)
        check = group[group["items"] > FIT_UP_TO]
        largest = check["items"].max() if len(check) else math.nan
        at_check = check[check["items"] == largest]
        measured = math.exp(np.log(at_check["duration_s"].to_numpy(float)).mean()) if len(at_check) else math.nan
        table_mb = (float(at_check["table_bytes"].median()) / 1e6
                    if len(at_check) and "table_bytes" in at_check and at_check["table_bytes"].notna().any()
                    else math.nan)
        rows.append({**dict(zip(PLACE, key)), "fixed_ms": 1e3 * fixed, "fixed_ms_low": 1e3 * low[0],
                     "fixed_ms_high": 1e3 * high[0], "per_item_us": 1e6 * per_item,
                     "per_item_us_low": 1e6 * low[1], "per_item_us_high": 1e6 * high[1],
                     "sizes": ",".join(str(int(i)) for i in sorted(fitted["items"].unique())), "n": len(fitted),
                     "check_items": largest, "check_ratio": (fixed + per_item * largest) / measured
                     if len(at_check) else math.nan, "check_table_mb": table_mb,
                     "reference": bool(group["reference"].any())})
    return pd.DataFrame(rows, columns=COLUMNS)
