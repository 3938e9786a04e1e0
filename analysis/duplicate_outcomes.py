"""duplicates.csv: what each strategy does when keys come twice in its input (`--duplicate-keys`).

A duplicated key's stale copy comes immediately before the row that must win (contract.workload
`Keys.input_rows`). One row per configuration x strategy x phase, from the passes with
`duplicate_keys` > 0: `n`, `n_ok`, and `outcome`, each pass classified as
- `ok`: it completed and every value is the later row's;
- `fails`: it raised (`error_kind`: cardinality_violation, "ON CONFLICT DO UPDATE command cannot
  affect row a second time" or MERGE's; unique_violation; ...), its transaction rolled back;
- `wrong values`: it completed but the value check failed; `rows_differ` is how many rows of a
  table differ (the larger of the two, from `error`; the median over such passes) and
  `kept_stale` whether the first differing row holds the stale copy (its name in users, its
  street in addresses, as `error` shows them);
(passes of one cell that disagree: their outcomes joined, `ok / fails`). `reason` is the
server's reason, the first line of the commonest `error`, shortened; `median_duration` is over
the ok passes.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.load import CONFIG_COLUMNS, phase_key
from contract.row import error_kind
from contract.workload import STALE, address_row, user_row

OK, FAILS, WRONG = "ok", "fails", "wrong values"
OUTCOMES = (OK, WRONG, FAILS)  # the order a cell's outcomes are named in
REASON_CHARS = 90
COLUMNS = [*CONFIG_COLUMNS, "duplicate_keys", "strategy", "technique", "reference", "phase", "n", "n_ok",
           "outcome", "error_kind", "reason", "rows_differ", "kept_stale", "median_duration"]
DIFFER = re.compile(r"(\d+) (users|addresses) rows differ, first id (\d+): ")
# the column of a stale row that tells it apart from every phase's (contract.workload's value sets)
TELLING = {"users": (user_row, 1), "addresses": (address_row, 2)}  # name, street


def _kind(row) -> str:
    return str(row.get("error_kind") or "") or error_kind(str(row.get("error") or ""))


def pass_outcome(row) -> str:
    """ok, fails or wrong values, for one pass (a row of passes, as a dict or Series)."""
    if row["success"]:
        return OK
    return WRONG if _kind(row) == "wrong_values" else FAILS


def _shown(value) -> str:
    """A value as the harness's verify writes it into `error` (repr, cut at 40 characters)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def kept_stale(error: str, items: int) -> bool:
    """Does the first differing row of a table hold the stale copy's values?"""
    for _, table, first_id in DIFFER.findall(error):
        make, column = TELLING[table]
        if f" got {_shown(make(int(first_id), STALE, items)[column])}" in error:
            return True
    return False


def rows_differ(error: str) -> int | None:
    counts = [int(n) for n, _, _ in DIFFER.findall(error)]
    return max(counts) if counts else None


def _reason(errors: pd.Series, wrong: bool) -> str:
    lines = errors.fillna("").astype(str).str.split("\n").str[0]
    lines = lines[lines != ""]
    if lines.empty:
        return ""
    line = lines.value_counts(sort=True).index[0]
    if wrong and (found := DIFFER.search(line)):
        line = found.group(0).rstrip(": ")  # "30 users rows differ, first id 10"
    return line if len(line) <= REASON_CHARS else line[:REASON_CHARS - 3] + "..."


def duplicate_outcomes(passes: pd.DataFrame) -> pd.DataFrame:
    if "duplicate_keys" not in passes:
        return pd.DataFrame(columns=COLUMNS)
    doubled = passes[pd.to_numeric(passes["duplicate_keys"], errors="coerce").fillna(0) > 0]
    rows = []
    for key, group in doubled.groupby([*CONFIG_COLUMNS, "duplicate_keys", "strategy", "phase"], sort=True):
        *config, share, strategy, phase = key
        outcomes = [pass_outcome(r) for r in group.to_dict("records")]
        failed = group[[o != OK for o in outcomes]]
        wrong = group[[o == WRONG for o in outcomes]]
        differing = [n for n in map(rows_differ, wrong["error"].fillna("").astype(str)) if n is not None]
        ok = group[group["success"].astype(bool)]
        rows.append({**dict(zip(CONFIG_COLUMNS, config)), "duplicate_keys": share, "strategy": strategy,
                     "technique": group["technique"].iloc[0] if "technique" in group else "",
                     "reference": bool(group["reference"].any()), "phase": phase,
                     "n": len(group), "n_ok": len(ok),
                     "outcome": " / ".join(o for o in OUTCOMES if o in outcomes),
                     "error_kind": ", ".join(sorted({_kind(r) for r in failed.to_dict("records")} - {""})),
                     "reason": _reason(failed["error"] if "error" in failed else pd.Series(dtype=str),
                                       wrong=len(wrong) == len(failed) > 0),
                     "rows_differ": float(pd.Series(differing).median()) if differing else float("nan"),
                     "kept_stale": (all(kept_stale(str(r["error"]), int(r["items"])) for r in wrong.to_dict("records"))
                                    if len(wrong) else None),
                     "median_duration": float(ok["duration_s"].median()) if len(ok) else float("nan")})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values([*CONFIG_COLUMNS, "duplicate_keys", "strategy", "phase"], key=phase_key,
                             kind="stable").reset_index(drop=True)
