"""REPORT.md: the setup, the tables, the figures and the findings in plain words."""

from __future__ import annotations

import math

import pandas as pd

from analysis.cost_model import FIT_UP_TO
from analysis.load import CONFIG_COLUMNS, config_label, ordered_phases
from analysis.report_distance import distance_section
from analysis.report_rows import rows_sections
from analysis.report_setup import setup_section
from analysis.significance import F_TEST, key_pairs
from analysis.stats import DURATION_INTERVAL
from contract.ranking import FLOOR_INTERVAL, MIN_BLOCKS, NOT_RANKED


def fmt_p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "no p-value"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def fmt_s(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def _table(part: pd.DataFrame) -> str:
    shown = part.assign(
        ok=part["n_ok"].astype(int).astype(str) + "/" + part["n"].astype(int).astype(str),
        median=part["median_duration"].map(lambda v: f"{v:.3f}" if pd.notna(v) else "-"),
        ci=[f"{g:.3f} ({lo:.3f}–{hi:.3f})" if pd.notna(lo) else "-"
            for g, lo, hi in zip(part["geomean_duration"], part["ci_low"], part["ci_high"])],
        floor=[_floor_cell(r) for _, r in part.iterrows()],
        cv=part["cv_duration"].map(lambda v: f"{v:.0%}" if pd.notna(v) else "-"),
        memory=part["median_memory"].map(lambda v: f"{v:.1f}" if pd.notna(v) else "-"),
        rows=part["rows_per_s"].map(lambda v: f"{v:,.0f}" if pd.notna(v) else "-"),
        rank=[_rank_cell(r) for _, r in part.iterrows()],
        band=[r.get("band") or "-" for _, r in part.iterrows()],
        name=[f"`{s}`" + (" (floor)" if r else "") for s, r in zip(part["strategy"], part["reference"])],
    )
    columns = {"rank": "rank", "band": "band", "name": "strategy", "ok": "ok", "median": "median s",
               "ci": f"geometric mean s ({DURATION_INTERVAL})", "cv": "CV",
               "floor": f"x floor ({FLOOR_INTERVAL})", "memory": "peak MB", "rows": "rows/s"}
    return shown[list(columns)].rename(columns=columns).to_markdown(index=False, disable_numparse=True)


def _rank_cell(row: pd.Series) -> str:
    if row["reference"]:
        return "floor"
    if row.get("suspect"):
        return "below the floor: suspect"
    return (str(row.get("rank") or "-") + (" (below the floor)" if row.get("below_floor") else ""))


def _floor_cell(row: pd.Series) -> str:
    ratio = row.get("floor_ratio")
    if ratio is None or pd.isna(ratio):
        return "-"
    low, high = row.get("floor_ratio_low"), row.get("floor_ratio_high")
    return f"{ratio:.2f}x" + (f" ({low:.2f}–{high:.2f})" if pd.notna(low) else "")


def _verdict(row: pd.Series) -> str:
    if pd.isna(row.get("p_adjusted")):
        return f", not compared ({row['note'] or 'too few rounds'})"
    ci = f" (simultaneous 95% interval {row['ratio_ci_low']:.2f}–{row['ratio_ci_high']:.2f}x)"
    if row["significant"] == True:  # noqa: E712 (numpy or Python bool)
        return f"{ci}, different: {fmt_p(row['p_adjusted'])}, adjusted over all pairs"
    return f"{ci}, cannot be told apart ({fmt_p(row['p_adjusted'])}, adjusted over all pairs)"


def _pair(pair_rows: pd.DataFrame, one: str, other: str) -> pd.Series | None:
    match = pair_rows[((pair_rows["a"] == one) & (pair_rows["b"] == other))
                      | ((pair_rows["a"] == other) & (pair_rows["b"] == one))]
    return None if match.empty else match.iloc[0]


def findings(agg: pd.DataFrame, pairs: pd.DataFrame, phase: str, items: int) -> list[str]:
    ranked = agg[~agg["reference"] & agg["band"].fillna("").astype(bool)].sort_values("floor_ratio")
    if ranked.empty:
        return [f"- **{phase}:** no strategy ran the {MIN_BLOCKS} rounds a comparison needs."]
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    floor_text = f", {_floor_cell(best)} the server-only floor" if _floor_cell(best) != "-" else ""
    tied = [f"`{r.strategy}`" for r in ranked.iloc[1:].itertuples() if set(r.band) & set(best["band"])]
    lines = [f"- **{phase}:** first `{best['strategy']}` ({fmt_s(best['median_duration'])} median{floor_text}; "
             + (f"cannot be told apart from {', '.join(tied)}" if tied else "ahead of every other strategy")
             + f"); last `{worst['strategy']}` ({fmt_s(worst['median_duration'])}, "
             f"{worst['median_duration'] / best['median_duration']:.1f}x slower)."]
    for r in agg[agg["suspect"].fillna(False).astype(bool)].itertuples():
        lines.append(f"- **{phase}:** `{r.strategy}` measured below the floor "
                     f"({_floor_cell(pd.Series(r._asdict()))}) on one connection: suspect, not ranked.")
    unranked = agg[~agg["reference"] & (agg["rank"] == NOT_RANKED)]
    if len(unranked):
        lines.append(f"- **{phase}:** not ranked (fewer than {MIN_BLOCKS} successful rounds): "
                     + ", ".join(f"`{s}`" for s in unranked["strategy"]) + ".")
    failed = agg[agg["n_ok"] < agg["n"]]
    for row in failed.itertuples():
        lines.append(f"- **{phase}:** `{row.strategy}` failed {int(row.n - row.n_ok)} of {int(row.n)} passes.")
    pair_rows = pairs[(pairs["phase"] == phase) & (pairs["test"] != F_TEST)]
    for one, other, question in key_pairs(set(pair_rows["a"]) | set(pair_rows["b"])):
        row = _pair(pair_rows, one, other)
        if row is not None:
            lines.append(f"  - {question}: {_compared(row)} at {items:,} items{_verdict(row)}.")
    order = list(ranked["strategy"])
    neighbours = [row for one, other in zip(order, order[1:]) if (row := _pair(pair_rows, one, other)) is not None]
    if neighbours:
        lines.append(f"  - neighbours in the {phase} ranking:")
        lines += [f"    - {_compared(row)}{_verdict(row)}." for row in neighbours]
    return lines


def _compared(row: pd.Series) -> str:
    """`b` takes 2.10x the time of `a` (a ratio of durations, whichever way it falls)."""
    return f"`{row['b']}` takes {row['ratio']:.2f}x the time of `{row['a']}`"


RANKING_TEXT = (
    "How to read the ranking. Every number comes from one model per phase: log duration = strategy + "
    "round, fitted over all passes (a round is one shuffled pass of every strategy, so a slow round "
    "of the machine is not charged to whoever ran in it). `x floor` is the strategy's duration over "
    f"the server-only floor's with its {FLOOR_INTERVAL}; each strategy's own noise is estimated from its "
    "passes, moderated toward the others' (empirical Bayes). Pairs are compared with intervals and "
    "p-values simultaneous over all pairs of the phase (Bonferroni, `significance.csv`), and ranks "
    "and bands come from those same comparisons: **rank** is the range of places a strategy could "
    "take (1 + the strategies shown faster, to the count of those not shown slower); strategies "
    "that share a **band** letter cannot be told apart, strategies with no letter in common differ. "
    f"A strategy with fewer than {MIN_BLOCKS} successful rounds is not ranked. The floor uses a "
    "single connection: no single-connection strategy doing its work can beat it, so one whose whole "
    "interval is below it is shown as suspect, not ranked; a strategy using several connections can keep "
    "several server processes busy and, given spare cores, legitimately come close to or below it, and "
    "one that wrote under half the floor's WAL did less work (e.g. left unchanged rows alone where the "
    "floor rewrites them): both are ranked as usual.")


def config_section(config: tuple, agg: pd.DataFrame, pairs: pd.DataFrame, figures: list[str]) -> list[str]:
    lines = [f"## {config_label(config)}", ""]
    phases = ordered_phases(agg["phase"])
    for phase in phases:
        lines += [f"### {phase} pass", "", _table(agg[agg["phase"] == phase]), ""]
    lines += ["### Findings", ""]
    lines += [RANKING_TEXT, ""]
    for phase in phases:
        lines += findings(agg[agg["phase"] == phase], pairs, phase, int(config[0]))
    lines += time_lines(agg)
    lines += ["", "### Figures", ""]
    lines += [f"![{name}]({name}.png)" for name in figures]
    lines.append("")
    return lines


def _share(row, column: str) -> float:
    return 100 * max(row[column], 0.0) / row["median_duration"]


def time_lines(agg: pd.DataFrame) -> list[str]:
    """"Where the time goes" in words: the server-work floor, and which strategies spend their
    time in their own process, in the server, or waiting."""
    if "median_server_cpu_s" not in agg or agg["median_server_cpu_s"].notna().sum() == 0:
        return []
    lines = ["", "### Where the time goes", "",
             "CPU time of the strategy's own process during `main()` (all threads) and of every PostgreSQL "
             "process during the pass, from the operating system's accounting, as shares of the median "
             "duration; the rest is neither (waiting on round trips, locks, disk). Medians over successful "
             "passes (figure `time_split_*`).", ""]
    for phase in ordered_phases(agg["phase"]):
        part = agg[(agg["phase"] == phase) & agg["median_duration"].notna() & agg["median_server_cpu_s"].notna()]
        if part.empty:
            continue
        rows = [r for _, r in part.iterrows()]
        floor = next((r for r in rows if r["reference"]), None)
        text = f"- **{phase}:** "
        if floor is not None:
            text += (f"the server-work floor is {fmt_s(floor['median_server_cpu_s'])} of server CPU (the "
                     f"floor's duration {fmt_s(floor['median_duration'])}, one connection). ")
        strategies = [r for r in rows if not r["reference"]]
        client = sorted(strategies, key=lambda r: -_share(r, "median_client_cpu_s"))[:3]
        waiting = sorted(strategies, key=lambda r: -_share(r, "median_other_s"))[:3]
        text += ("Most time in their own process: " + ", ".join(
            f"`{r['strategy']}` {_share(r, 'median_client_cpu_s'):.0f}%" for r in client) + ". ")
        text += ("Most time waiting: " + ", ".join(
            f"`{r['strategy']}` {_share(r, 'median_other_s'):.0f}%" for r in waiting) + ".")
        lines.append(text)
    lines += ["", "The floor uses a single connection: a strategy spreading the work over several "
              "connections can keep more than one server process busy and, with enough cores, finish "
              "below it; on one connection nothing can, since it adds the transfer to the same server work."]
    return lines


def scaling_section(growths: pd.DataFrame | None, names: list[str], costs: pd.DataFrame | None = None) -> list[str]:
    lines = ["## Scaling", "",
             f"What each strategy costs per call and per item: duration = fixed + per item x items, "
             f"fitted on relative errors over the sizes up to {FIT_UP_TO:,} items, with 95% intervals from "
             "resampling rounds (or whole runs) within each size (`cost.csv`); the largest size above that "
             "is the check: the model's prediction there over what was measured. Peak memory's growth is "
             "the exponent of a log-log fit (1 = linear, 0 = flat) with its 95% CI (`growth.csv`); speed-up "
             "with threads in `speedup.csv`.", ""]
    if costs is not None and not costs.empty:
        shown = costs.assign(
            strategy="`" + costs["strategy"] + "`",
            fixed=[f"{v:.1f} ({lo:.1f}–{hi:.1f})" for v, lo, hi in
                   zip(costs["fixed_ms"], costs["fixed_ms_low"], costs["fixed_ms_high"])],
            per_item=[f"{v:.2f} ({lo:.2f}–{hi:.2f})" for v, lo, hi in
                      zip(costs["per_item_us"], costs["per_item_us_low"], costs["per_item_us_high"])],
            check=[f"{r:.2f} at {int(n):,} ({mb:,.0f} MB of tables)" if pd.notna(r) else "-"
                   for r, n, mb in zip(costs["check_ratio"], costs["check_items"], costs["check_table_mb"])])
        columns = {"threads": "threads", "strategy": "strategy", "phase": "phase", "fixed": "fixed ms (95%)",
                   "per_item": "µs per item (95%)", "check": "predicted / measured"}
        lines += [shown[list(columns)].rename(columns=columns).to_markdown(index=False, disable_numparse=True), ""]
    if growths is not None and not growths.empty:
        memory = growths[growths["metric"] == "memory"]
        shown = [{"threads": int(r.threads), "strategy": f"`{r.strategy}`", "phase": r.phase,
                  "memory exponent [95% CI]": f"{r.exponent:.2f}" + (f" [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                                                                      if pd.notna(r.ci_low) else "")}
                 for r in memory.itertuples()]
        if shown:
            lines += [pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True), ""]
    lines += [f"![{name}]({name}.png)" for name in names] + [""]
    return lines


def contention_section(outcomes: pd.DataFrame | None) -> list[str]:
    """The contention outcome per strategy (contention.csv), one table per configuration."""
    if outcomes is None or outcomes.empty:
        return []
    lines = ["## Contention", "",
             "The update pass raced a second writer upserting the lower half of the keys (half of "
             "them deleted first) for as long as the strategy ran (`--contention`). `torn rows` "
             "hold neither writer's values (a lost or torn update) and must be 0; `raised` is what "
             "the strategy's failed passes raised (a failed pass rolled back: its rows are not "
             "counted as torn, `-` when no pass completed); the contender's retries are the "
             "deadlocks and serialization failures it had to repeat (`contention.csv`).", ""]
    for config, part in outcomes.groupby(CONFIG_COLUMNS, sort=True):
        shown = pd.DataFrame({
            "strategy": "`" + part["strategy"] + "`", "technique": part["technique"],
            "ok": part["n_ok"].astype(str) + "/" + part["n"].astype(str),
            "raised": part["raised"].replace("", "-"), "torn rows": part["torn_rows"].map(lambda v: "-" if pd.isna(v) else f"{int(v):,}"),
            "rows won by contender": part["rows_won_by_contender"].map(
                lambda v: "-" if pd.isna(v) else f"{v:,.0f}"),
            "contender retries": part["contender_retries"].astype(str),
            "median s": part["median_duration"].map(lambda v: "-" if pd.isna(v) else fmt_s(v))})
        lines += [f"### {config_label(config)}", "", shown.to_markdown(index=False, disable_numparse=True), ""]
    return lines


CAVEATS = [
    "## Caveats", "",
    "- Absolute durations depend on the machine; compare ratios, and rerun on yours (`make bench`).",
    "- A shared or virtual machine is noisy: the CV column shows the spread of each strategy's "
    "passes; durations under a second are the most affected.",
    "- Peak memory is memray's peak of the whole worker process: it includes the input rows "
    "(built before the timer starts) and the imported libraries, the same for every strategy.",
    "- The server-only floor includes the foreign-key check of every address and the index "
    "maintenance: it is the server's cost for this schema, not a universal constant.",
    "- Runs with different items, threads, PostgreSQL version, backend, variant (contention, "
    "loopback TCP, the relay, server settings), added latency or machine are never averaged "
    "together; each configuration has its own section, tables and figures.",
    "",
]


def build_report(manifests, aggregated, pairs, figures_by_config: dict[tuple, list[str]],
                 versions_figures: list[str] = (), scaling_figures: list[str] = (),
                 growths: pd.DataFrame | None = None, outcomes: pd.DataFrame | None = None,
                 costs: pd.DataFrame | None = None, wire: tuple = (), rows: tuple = (),
                 published: bool = False) -> str:
    """`wire`: (distance.csv, wire.csv, the distance figures, the manifests), for the section on the wire;
    `rows`: (duplicates.csv, writes.csv, the skipping figures by configuration), for the sections on them."""
    lines = ["# Upsert benchmark report", "",
             "Generated by `make figures` from the run folders listed in `manifest.json`; the "
             "numbers are in `aggregate.csv`, `significance.csv`, `correlation.csv` and the raw "
             + ("passes in the run folders' `results.csv` (`runs/`)." if published else "passes in `passes.csv`."),
             ""]
    lines += setup_section(manifests)
    for config, names in figures_by_config.items():
        mask = (aggregated[CONFIG_COLUMNS] == pd.Series(config, index=CONFIG_COLUMNS)).all(axis=1)
        pmask = (pairs[CONFIG_COLUMNS] == pd.Series(config, index=CONFIG_COLUMNS)).all(axis=1) if len(pairs) else []
        lines += config_section(config, aggregated[mask], pairs[pmask] if len(pairs) else pairs, names)
    if versions_figures:
        lines += ["## PostgreSQL versions side by side", "",
                  "The same strategies, items and threads on each PostgreSQL version of the runs "
                  "(the tables above keep every version apart).", ""]
        lines += [f"![{name}]({name}.png)" for name in versions_figures] + [""]
    if scaling_figures:
        lines += scaling_section(growths, scaling_figures, costs)
    lines += contention_section(outcomes)
    lines += rows_sections(*rows) if rows else []
    lines += distance_section(*wire) if wire else []
    lines += CAVEATS
    return "\n".join(lines)
