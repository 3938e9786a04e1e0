"""correlation.csv: across strategies, how do their medians move together?

Per configuration and phase, over the strategies' aggregate rows (one point per strategy, the
reference floor excluded): Pearson r (linear, as the original project computed) and Spearman
rho (monotone, robust to the orders-of-magnitude spread of durations), each with its p-value.
"Is the faster strategy also the leaner one?" is duration vs memory. Rows per second is left out:
it is 2 x items / duration, so its correlation with duration is an identity, not a finding.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import CONFIG_COLUMNS

VARIABLES = {
    "median_duration": "duration_s",
    "median_memory": "peak_memory_mb",
    "median_max_rss_mb": "max_rss_mb",
    "median_wal_bytes": "wal_bytes",
    "median_connections": "connections",
}


def correlate(aggregated: pd.DataFrame) -> pd.DataFrame:
    rows = []
    usable = aggregated[~aggregated["reference"] & (aggregated["n_ok"] > 0)]
    for key, part in usable.groupby(CONFIG_COLUMNS + ["phase"], sort=True):
        for x, y in itertools.combinations(VARIABLES, 2):
            pair = part[[x, y]].dropna()
            row = {**dict(zip(CONFIG_COLUMNS + ["phase"], key)), "x": VARIABLES[x], "y": VARIABLES[y],
                   "n": len(pair)}
            constant = len(pair) < 3 or pair[x].nunique() < 2 or pair[y].nunique() < 2
            if constant:
                row.update(pearson_r=np.nan, pearson_p=np.nan, spearman_rho=np.nan, spearman_p=np.nan)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pearson = stats.pearsonr(pair[x], pair[y])
                    spearman = stats.spearmanr(pair[x], pair[y])
                row.update(pearson_r=float(pearson.statistic), pearson_p=float(pearson.pvalue),
                           spearman_rho=float(spearman.statistic), spearman_p=float(spearman.pvalue))
            rows.append(row)
    return pd.DataFrame(rows)
