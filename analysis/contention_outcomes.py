"""Contention outcomes: what each strategy's update pass ended as while a second writer upserted
the same keys (`--contention`). One row per configuration x strategy, from the contended passes.

`torn_rows` (rows holding neither writer's values: lost or torn updates) must be 0 for a correct
technique; `raised` is what the strategy's failed passes raised (unique_violation, deadlock, ...);
`contender_retries`/`contender_errors` what the second writer went through against it.
"""

from __future__ import annotations

import pandas as pd

from analysis.load import CONFIG_COLUMNS, as_bool

COLUMNS = [*CONFIG_COLUMNS, "strategy", "technique", "n", "n_ok", "raised", "torn_rows", "rows_won_by_contender",
           "contender_rows", "contender_retries", "contender_errors", "median_duration"]


def contention_outcomes(passes: pd.DataFrame) -> pd.DataFrame:
    if "contention" not in passes or "torn_rows" not in passes:
        return pd.DataFrame(columns=COLUMNS)
    contended = passes[as_bool(passes["contention"])]
    rows = []
    for key, group in contended.groupby(CONFIG_COLUMNS + ["strategy"], sort=True):
        numbers = {c: pd.to_numeric(group[c], errors="coerce") for c in
                   ("torn_rows", "rows_won_by_contender", "contender_rows", "contender_retries",
                    "contender_errors")}
        ok = group[group["success"]]
        kinds = sorted(set(group.get("error_kind", pd.Series(dtype=str)).dropna().astype(str)) - {""})
        rows.append({**dict(zip(CONFIG_COLUMNS + ["strategy"], key)), "technique": group["technique"].iloc[0]
                     if "technique" in group else "", "n": len(group), "n_ok": len(ok),
                     "raised": ", ".join(kinds), "torn_rows": (int(numbers["torn_rows"].sum()) if numbers["torn_rows"].notna().any()
                                   else None),  # measured only for passes that completed
                     "rows_won_by_contender": float(numbers["rows_won_by_contender"].median()),
                     "contender_rows": float(numbers["contender_rows"].median()),
                     "contender_retries": int(numbers["contender_retries"].sum()),
                     "contender_errors": int(numbers["contender_errors"].sum()),
                     "median_duration": float(ok["duration_s"].median()) if len(ok) else float("nan")})
    return pd.DataFrame(rows, columns=COLUMNS)
