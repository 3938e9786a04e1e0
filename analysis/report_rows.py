"""REPORT.md's sections on what the input and the tables hold: keys given twice in the input
(duplicates.csv, analysis.duplicate_outcomes) and what skipping unchanged rows saves (writes.csv,
analysis.skipping)."""

from __future__ import annotations

import math

import pandas as pd

from analysis.duplicate_outcomes import FAILS, OK, WRONG
from analysis.load import CONFIG_COLUMNS, config_label, ordered_phases, phase_key
from analysis.skipping import SKIP_SUFFIX


def _cell(row) -> str:
    """`ok`, `fails: cardinality_violation`, `wrong values: kept stale (30 of 300 rows)`; with the
    counts when the passes of the cell disagree."""
    outcomes = row.outcome.split(" / ")
    parts = []
    for outcome in outcomes:
        if outcome == OK:
            parts.append(OK)
        elif outcome == WRONG:
            rows = "" if pd.isna(row.rows_differ) else f"{row.rows_differ:,.0f} of {int(row.items):,} rows"
            what = "kept stale" if row.kept_stale == True else ""  # noqa: E712 (None: no such pass)
            detail = ", ".join(filter(None, [what, rows]))
            parts.append(f"{WRONG}" + (f": {what} ({rows})" if what and rows else f" ({detail})" if detail else ""))
        else:
            kinds = [k for k in str(row.error_kind).split(", ") if k and k != "wrong_values"]
            parts.append(f"{FAILS}: {', '.join(kinds)}" if kinds else FAILS)
    text = "; ".join(parts)
    return text if len(outcomes) == 1 else f"{text} ({int(row.n_ok)}/{int(row.n)} ok)"


def _names(strategies: dict[str, list[str]], phases: list[str], references=frozenset()) -> str:
    """`a`, `b` (update, mixed), ...: the phases named where not all of them."""
    return ", ".join(f"`{s}`" + (" (the floor)" if s in references else "")
                     + ("" if set(where) == set(phases) else f" ({', '.join(ordered_phases(where))})")
                     for s, where in sorted(strategies.items()))


def duplicates_section(outcomes: pd.DataFrame) -> list[str]:
    """Per configuration with duplicate keys: strategy rows, phase columns, each cell its outcome;
    then which strategies are safe, which raise, which silently keep the stale copy."""
    if outcomes is None or outcomes.empty:
        return []
    lines = ["## Keys given twice in the input", "",
             "With `--duplicate-keys`, that percentage of each pass's keys comes twice in the strategy's input: "
             "first a stale copy with values of its own, immediately followed by the row that must end up in "
             "the table, so a correct upsert leaves the later row. `ok`: every pass wrote the later row's values; "
             "`fails`: it raised (`cardinality_violation`: one `INSERT ... ON CONFLICT DO UPDATE` or `MERGE` "
             "met the key twice; the transaction rolled back) with the server's reason in `duplicates.csv`; "
             "`wrong values`: it completed but left other values, `kept stale` when the first differing row "
             "holds the stale copy.", ""]
    for config, part in outcomes.groupby(CONFIG_COLUMNS, sort=True):
        phases = ordered_phases(part["phase"])
        table = part.assign(cell=[_cell(r) for r in part.itertuples()]).pivot(
            index="strategy", columns="phase", values="cell").reindex(columns=phases).fillna("-")
        references = set(part.loc[part["reference"].astype(bool), "strategy"])
        table.index = [f"`{s}`" + (" (floor)" if s in references else "") for s in table.index]
        lines += [f"### {config_label(config)}", "",
                  table.rename_axis("strategy").reset_index().to_markdown(index=False, disable_numparse=True), ""]
        by = {OK: {}, FAILS: {}, WRONG: {}}
        for r in part.itertuples():
            for outcome in r.outcome.split(" / "):
                by[outcome].setdefault(r.strategy, []).append(r.phase)
        safe = {s: p for s, p in by[OK].items() if set(p) == set(phases)
                and s not in by[FAILS] and s not in by[WRONG] and s not in references}
        lines.append("- **Safe** (the later row won in every phase and pass): "
                     + (_names(safe, phases) if safe else "none") + ".")
        if by[FAILS]:
            lines.append("- **Raise** (nothing half-written: the batch must be de-duplicated first, or retried): "
                         + _names(by[FAILS], phases, references) + ".")
        if by[WRONG]:
            lines.append("- **Silently wrong** (completed without an error; only the benchmark's value check saw it): "
                         + _names(by[WRONG], phases, references) + ".")
        lines.append("")
    return lines


def _number(value: float, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _per_row(row, what: str, fmt: str = "{:,.0f}") -> str:
    return "failed" if not row.n_ok else _number(getattr(row, f"{what}_per_row"), fmt)


def _pair_rows(part: pd.DataFrame) -> list[dict]:
    at = part.set_index(["strategy", "phase"])
    rows = []
    for r in part[part["blind"] != ""].sort_values(["strategy", "phase"], key=phase_key).itertuples():
        if (r.blind, r.phase) not in at.index:
            continue
        blind = at.loc[(r.blind, r.phase)]
        if not (r.n_ok or blind.n_ok):  # both failed every pass (duplicates.csv says how)
            continue
        interval = ("" if pd.isna(r.duration_vs_blind_low)
                    else f" ({r.duration_vs_blind_low:.2f}–{r.duration_vs_blind_high:.2f})")
        rows.append({"strategy": f"`{r.strategy}`", "phase": r.phase,
                     "WAL B/row: as is → skipping": f"{_per_row(blind, 'wal')} → {_per_row(r, 'wal')}",
                     "WAL skipping / as is": _number(r.wal_vs_blind, "{:.2f}x"),
                     "dead tuples/row: as is → skipping": f"{_per_row(blind, 'dead_tuples', '{:.2f}')} → "
                                                          f"{_per_row(r, 'dead_tuples', '{:.2f}')}",
                     "ok passes": f"{int(blind.n_ok)}/{int(blind.n)}, {int(r.n_ok)}/{int(r.n)}",
                     "duration skipping / as is (95%)": _number(r.duration_vs_blind, "{:.2f}x")
                     + ("" if pd.isna(r.duration_vs_blind) else interval)})
    return rows


SKIPPING_TEXT = (
    f"A strategy named `<strategy>{SKIP_SUFFIX}` is `<strategy>` plus a test that leaves a row alone when its "
    "stored values are already the incoming ones (`IS DISTINCT FROM` over every column). Beside each other, per "
    "phase: WAL written per row (users + addresses, median of the successful passes), dead tuples per row, and "
    "the ratio of their durations: the blocked model's within-round contrast of the pair, with its 95% "
    "t-interval when both ran 3 rounds or more. The `unchanged` phase re-sends every row as it is stored; "
    "`update` changes every row, so there nothing can be skipped (`writes.csv` has every strategy, HOT updates "
    "too).")


def skipping_section(writes: pd.DataFrame, figures: dict[tuple, list[str]]) -> list[str]:
    """Per configuration holding a skipping strategy and its counterpart: the two side by side."""
    sections = []
    for config, part in (writes.groupby(CONFIG_COLUMNS, sort=True) if writes is not None and len(writes) else ()):
        rows = _pair_rows(part)
        if rows:
            sections += [f"### {config_label(config)}", "",
                         pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True), "",
                         *(f"![{name}]({name}.png)" for name in figures.get(config, [])), ""]
    return ["## What skipping unchanged rows saves", "", SKIPPING_TEXT, "", *sections] if sections else []


def rows_sections(duplicates: pd.DataFrame, writes: pd.DataFrame, figures: dict[tuple, list[str]]) -> list[str]:
    return duplicates_section(duplicates) + skipping_section(writes, figures)
