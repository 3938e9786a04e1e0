"""REPORT.md's section on the wire: the round-trip time of every run, what each strategy sent
(wire.csv), what it costs at a distance and how well that prediction held (distance.csv)."""

from __future__ import annotations

import math

import pandas as pd

from analysis.distance import CHECKED_SHARE, FAMILY_ORDER, PLACE, RELAY_INTERVAL, RTTS_MS, WITHIN
from analysis.distance_figures import representatives
from analysis.load import ordered_phases, phase_key
from contract.manifest import Manifest


def _ms(value: float) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3g}"


def _s(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def rtt_lines(manifests: dict[str, Manifest]) -> list[str]:
    """Every round-trip time the runs measured: one row per run, server and path."""
    rows = {}
    for run_id, manifest in sorted(manifests.items()):
        for server in manifest.servers:
            for rtt in server.round_trip_times or ():
                path = "direct" if rtt.path == "direct" else f"relay +{rtt.added_latency_ms:g} ms"
                row = rows.setdefault((run_id, server.label, path), {
                    "run": run_id, "server": server.label, "transport": server.transport or "?", "path": path})
                row[f"{rtt.when} median ms (p95)"] = f"{_ms(rtt.median_ms)} ({_ms(rtt.p95_ms)})"
    if not rows:
        return []
    return ["Round-trip times measured by each run (manifest `round_trip_times`: 200 `SELECT 1` on a fresh "
            "connection at the start and the end of the server's work):", "",
            pd.DataFrame(list(rows.values())).fillna("-").to_markdown(index=False, disable_numparse=True), ""]


def _both(values: pd.Series, fmt) -> str:
    """One value when the phases agree, else one per phase: `insert / update`."""
    shown = [fmt(v) for v in values]
    return shown[0] if len(set(shown)) == 1 else " / ".join(shown)


def _wire_table(part: pd.DataFrame) -> str:
    """One row per strategy; where its phases differ, a cell says `insert / update` (PHASES order)."""
    rows = []
    for strategy, both in part.sort_values(["strategy", "phase"], key=phase_key).groupby("strategy", sort=True):
        rows.append({"strategy": f"`{strategy}`", "family": _both(both["family"], str),
                     "connections": _both(both["wire_connections"], lambda v: f"{v:g}"),
                     "round trips": _both(both["round_trips"], lambda v: f"{v:,.0f}"),
                     "busiest connection": _both(both["round_trips_max_connection"], lambda v: f"{v:,.0f}"),
                     "kB to server": _both(both["bytes_to_server"], lambda v: f"{v / 1000:,.1f}"),
                     "kB back": _both(both["bytes_from_server"], lambda v: f"{v / 1000:,.1f}"),
                     "identical": "yes" if both["identical"].all() else
                     "no: " + ", ".join(f"{r.phase} {r.round_trips_min:,.0f}-{r.round_trips_max:,.0f}"
                                        for r in both.itertuples() if not r.identical),
                     "passes": str(int(both["n"].min()))})
    phases = " / ".join(ordered_phases(part["phase"]))
    return (f"(cells with two values: {phases})\n\n"
            + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))


def _distance_table(part: pd.DataFrame) -> str:
    latencies = sorted(set(part.loc[part["measured"].astype(bool), "rtt_ms"]))
    rows = []
    for strategy, rows_of in part.groupby("strategy", sort=False):
        first = rows_of.iloc[0]
        at = rows_of.set_index("rtt_ms")
        row = {"strategy": f"`{strategy}`" + (" (floor)" if first["reference"] else ""),
               "round trips waited": f"{first['turns']:,.0f}" + (" (busiest)" if first["parallel"] else ""),
               "local s": _s(first["local_s"])}
        row |= {f"predicted {r:g} ms": _s(at.loc[r, "predicted_s"]) for r in RTTS_MS}
        for r in latencies:
            m = at.loc[r]
            row[f"measured +{r:g} ms: at RTT, s (x predicted there)"] = (
                "-" if not m["measured"] else f"{m['measured_rtt_ms']:.2f} ms: {_s(m['measured_s'])} "
                f"(x{m['measured_over_predicted']:.2f}" + ("" if m["checked"] else ", not checked") + ")")
        row["round trips half the time from"] = "-" if pd.isna(first["rtt_half_ms"]) else f"{first['rtt_half_ms']:.2g} ms"
        row["10x fastest from"] = _crossover(first["rtt_10x_fastest_ms"])
        if first[["relay0_over_direct"]].notna().all():
            row[f"relay 0 ms / direct ({RELAY_INTERVAL})"] = f"{first['relay0_over_direct']:.2f} ({first['relay0_low']:.2f}-{first['relay0_high']:.2f})"
        rows.append(row)
    return pd.DataFrame(rows).fillna("-").to_markdown(index=False, disable_numparse=True)


def _crossover(ms: float) -> str:
    if pd.isna(ms):
        return "never below 1 s"
    return "already locally" if ms == 0 else f"{ms:.2g} ms"


def _tenfold(ms: float) -> str:
    if pd.isna(ms):
        return "never 10x the fastest below 1 s"
    return "10x the fastest already locally" if ms == 0 else f"10x the fastest from {ms:.2g} ms"


def findings(part: pd.DataFrame) -> list[str]:
    """The prediction check, the relay's own cost and a sentence per family, in plain words."""
    lines = []
    checked = part[part["checked"].astype(bool)]
    if len(checked):
        misses = checked[~checked["within_15pct"].astype(bool)]
        lines.append(f"- **Prediction check:** {len(checked) - len(misses)} of {len(checked)} strategy x phase x "
                     f"latency cells whose added round trips make up at least {CHECKED_SHARE:.0%} of the measured "
                     f"duration are within {WITHIN:.0%} of the prediction"
                     + (": misses " + ", ".join(f"`{r.strategy}` {r.phase} +{r.rtt_ms:g} ms "
                                                 f"x{r.measured_over_predicted:.2f}" for r in misses.itertuples())
                        if len(misses) else "") + ".")
    elif part["measured"].astype(bool).any():
        lines.append(f"- **Prediction check:** no cell to check: the added round trips make up less than "
                     f"{CHECKED_SHARE:.0%} of every duration measured through the relay, so the local duration's "
                     "noise would decide the check.")
    relay = part[part["relay0_over_direct"].notna() & ~part["reference"].astype(bool)].drop_duplicates(["strategy", "phase"])
    if len(relay):
        for phase in ordered_phases(relay["phase"]):
            rows = relay[relay["phase"] == phase]
            fastest = rows.loc[rows["local_s"].idxmin()]
            cost = fastest["turns"] * (fastest["relay0_rtt_ms"] - fastest["local_rtt_ms"]) / 1000 / fastest["local_s"]
            lines.append(f"- **The relay's own cost ({phase}):** the fastest strategy, `{fastest['strategy']}`, took "
                         f"x{fastest['relay0_over_direct']:.2f} ({fastest['relay0_low']:.2f}-"
                         f"{fastest['relay0_high']:.2f}) through the relay at 0 ms; its {fastest['turns']:,.0f} "
                         f"round trips at the relay's measured round-trip time predict "
                         + (f"{cost:.1%} of its duration." if math.isfinite(cost) else "an unknown share."))
    chosen = {phase: representatives(part[part["phase"] == phase]) for phase in ordered_phases(part["phase"])}
    for kin in FAMILY_ORDER:
        per_phase = []
        for phase, members in chosen.items():
            if kin in members:
                r = part[(part["strategy"] == members[kin]) & (part["phase"] == phase)].iloc[0]
                per_phase.append(f"{phase} `{r['strategy']}`, {r['turns']:,.0f} round trips waited, half its time "
                                 f"from {r['rtt_half_ms']:.2g} ms, {_tenfold(r['rtt_10x_fastest_ms'])}")
        if per_phase:
            lines.append(f"- **{kin}** (its fastest at 1 ms): " + "; ".join(per_phase) + ".")
    return lines + [""]


def distance_section(distances: pd.DataFrame, wires: pd.DataFrame, names: list[str],
                     manifests: dict[str, Manifest]) -> list[str]:
    if distances.empty and wires.empty:
        return []
    lines = ["## At a distance", "",
             "What each strategy sent over the wire (`wire.csv`: counted by a relay in front of its memory-tracked "
             "passes, never the timed ones), and what that costs when the server is farther away "
             "(`distance.csv`): local duration + round trips x (round-trip time - the local one), checked "
             "against the passes run through the relay with `--latency` at the round-trip time measured through "
             "it. The round trips waited are those counted less one per connection (its Terminate message "
             "waits for nothing); a strategy spreading its work over several connections pays for its busiest "
             "one. Families: COPY, ORM `Session.merge()`, and by what the others did in the phase, one "
             "statement per row (a round trip per row or more) or multi-row statements.", ""]
    lines += rtt_lines(manifests)
    for key, part in wires.groupby(PLACE, sort=True):
        lines += [f"### Wire counts: {int(key[0]):,} items, {int(key[1])} threads, PostgreSQL {key[2]} ({key[3]}"
                  f"{'' if key[4] == 'default' else ', ' + key[4]})", "", _wire_table(part), ""]
    for key, part in distances.groupby(PLACE, sort=True):
        lines += [f"### Cost at a distance: {int(key[0]):,} items, {int(key[1])} threads, PostgreSQL {key[2]} "
                  f"({key[3]}{'' if key[4] == 'default' else ', ' + key[4]})", ""]
        lines += findings(part)
        for phase in ordered_phases(part["phase"]):
            rows = part[part["phase"] == phase]
            order = rows.groupby("strategy")["local_s"].first().sort_values().index
            ordered = rows.set_index("strategy").loc[order].reset_index()
            lines += [f"**{phase}** (seconds; measured: geometric mean)", "", _distance_table(ordered), ""]
    lines += [f"![{name}]({name}.png)" for name in names] + ([""] if names else [])
    return lines
