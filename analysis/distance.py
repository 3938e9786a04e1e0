"""distance.csv: what a strategy costs at a distance from its server, predicted from its wire
counts and checked against the passes measured through the relay (`--latency`).

Every round trip a strategy waits for costs it one round-trip time more when the server is
farther away, so at a round-trip time r

    predicted(r) = local + turns x (r - r_local)

- `local_s`: the geometric mean duration of its passes at no added latency in the same place
  (items, threads, server, machine, the variant without the relay): the direct passes when the
  runs hold any, else those through the relay at 0 ms.
- `r_local` (`local_rtt_ms`): the round-trip time those passes had, as the runs' manifests
  measured it (`round_trip_times`: 200 `SELECT 1` at the start and end of the server's work,
  the medians averaged): local passes already paid it for every turn.
- `r`: for a latency the runs measured, the round-trip time measured through that relay (a
  relay at +1 ms measures 1.2-1.4 ms: it wakes from sleep); for the round-trip times of RTTS_MS,
  the time itself (`rtt_ms`, what a reader's server is away).
- `turns`: the round trips it waits for. The relay counts the turns of its memory-tracked
  passes (`round_trips`, the median); each connection's last turn is its Terminate message,
  sent after the last answer and answered by nothing, so `turns` = round trips - connections.
  A strategy that spreads its work over several connections at once waits on them at the same
  time, so it pays for its busiest connection's turns (`round_trips_max_connection` - 1). It counts as `parallel` when its busiest connection carries
  less than PARALLEL_SHARE of all turns: a strategy that opens a second connection for a setup
  query keeps nearly all turns on one.
- Bytes are not charged: `transfer_ms` is what they would take on a LINK_BITS_PER_S link.

One row per place, strategy, phase and round-trip time `rtt_ms` (every time of RTTS_MS and every
latency the runs measured, marked `measured`), with `predicted_s` there. Where passes were
measured at that latency: `measured_rtt_ms`, the round-trip time through its relay, the
prediction there (`predicted_at_measured_rtt_s`), the passes' geometric mean with its 95%
t-interval, `measured_over_predicted` (1: the model holds) and `latency_share`, the share of
the measured duration the added round trips make up (turns x (r - r_local) / measured); the
prediction is checked where that share is at least CHECKED_SHARE (`within_15pct`).
`family` (`family()`): how it meets the wire in that phase. Per strategy (the same on each of its rows):
`rtt_half_ms`, the round-trip time from which waiting for round trips is half its duration
(r_local + local / turns: where the distance starts to decide), `rtt_2x_fastest_ms` and `rtt_10x_fastest_ms`, the round-trip time from which it takes 2 and 10
times the predicted duration of the fastest strategy there (0: already locally; empty: not below
1 s), and the relay's own cost, `relay0_over_direct` with the 95% t-interval of the within-round
contrast (blocked model) where the runs interleave `direct` and `0`, and the round-trip time
measured through that relay (`relay0_rtt_ms`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.phase_ranking import blocks
from analysis.stats import geometric_mean_ci
from contract.blocked_model import fit
from contract.manifest import Manifest
from contract.ranking import t_quantile

PLACE = ["items", "threads", "pg_version", "backend", "variant", "machine"]
RTTS_MS = (0.2, 1.0, 5.0)  # a server in the same zone, in the same region, in a neighbouring one
LINK_BITS_PER_S = 1e9
PARALLEL_SHARE = 0.75
CHECKED_SHARE = 0.5
WITHIN = 0.15
GRID_MS = np.geomspace(0.01, 1000, 2401)  # where the crossovers are looked for
INTERVAL = "95% t-interval of the geometric mean"
RELAY_INTERVAL = "95% t-interval of the within-round contrast (blocked model)"
COLUMNS = [*PLACE, "strategy", "phase", "technique", "family", "reference", "rtt_ms", "measured_rtt_ms", "local_s",
           "local_rtt_ms", "round_trips", "turns", "parallel", "connections", "bytes", "transfer_ms", "predicted_s", "measured",
           "predicted_at_measured_rtt_s",
           "measured_s", "measured_low", "measured_high", "n", "measured_over_predicted", "latency_share",
           "checked", "within_15pct", "rtt_half_ms", "rtt_2x_fastest_ms", "rtt_10x_fastest_ms", "relay0_over_direct",
           "relay0_low", "relay0_high", "relay0_rtt_ms", "interval"]


def base_variant(variant: str) -> str:
    """The variant without the relay: the place a latency's passes are predicted from."""
    parts = [p for p in str(variant).split("+") if p != "relay"]
    return "+".join(parts) or "default"


def measured_rtts(manifests: dict[str, Manifest]) -> dict[tuple[str, str, float | None], float]:
    """(run id, server label, added latency or None for direct) -> round-trip time in ms: the
    mean of the medians the manifest recorded at the start and the end."""
    found: dict[tuple, list[float]] = {}
    for run_id, manifest in manifests.items():
        for server in manifest.servers:
            for rtt in server.round_trip_times or ():
                if rtt.median_ms is None:
                    continue
                latency = None if rtt.path == "direct" else float(rtt.added_latency_ms or 0.0)
                found.setdefault((run_id, server.label, latency), []).append(rtt.median_ms)
    return {key: float(np.mean(values)) for key, values in found.items()}


def _rtt_of(part: pd.DataFrame, latency: float | None, rtts: dict) -> float:
    """The round-trip time the passes of `part` had at `latency` (None: direct), averaged over
    their runs; NaN when no manifest measured it."""
    keys = {(r, s, latency) for r, s in zip(part["run_id"], part["server"].fillna(""))}
    values = [rtts[k] for k in sorted(keys) if k in rtts]
    return float(np.mean(values)) if values else math.nan


def distance(passes: pd.DataFrame, manifests: dict[str, Manifest]) -> pd.DataFrame:
    if "round_trips" not in passes or passes["round_trips"].notna().sum() == 0:
        return pd.DataFrame(columns=COLUMNS)
    ok = passes[passes["success"].astype(bool)].assign(place_variant=lambda p: p["variant"].map(base_variant))
    rtts = measured_rtts(manifests)
    rows = []
    keys = [c if c != "variant" else "place_variant" for c in PLACE]
    for key, place in ok.groupby(keys, sort=True):
        rows += _place_rows(place, dict(zip(PLACE, key)), rtts)
    return pd.DataFrame(rows, columns=COLUMNS)


def _local(part: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Its passes at no added latency and how they reached the server: (direct passes, None)
    when there are any, else (those through the relay at 0 ms, 0.0)."""
    direct = part[~part["via_relay"].astype(bool)]
    if not direct.empty:
        return direct, None
    return part[part["latency_ms"] == 0], 0.0


def _turns(part: pd.DataFrame) -> dict:
    """The round trips counted, the turns that wait for one (`turns`), whether the strategy
    spreads its work over several connections at once, its connections and bytes both ways."""
    counted = part[part["round_trips"].notna()]
    if counted.empty:
        return {}
    total, busiest = counted["round_trips"].median(), counted["round_trips_max_connection"].median()
    connections = float(counted["wire_connections"].median())
    parallel = bool(busiest < PARALLEL_SHARE * total)
    volume = counted["bytes_to_server"].fillna(0) + counted["bytes_from_server"].fillna(0)
    waited = busiest - 1 if parallel else total - connections  # each connection's Terminate waits for nothing
    return {"round_trips": float(total), "turns": float(max(waited, 0)), "parallel": parallel,
            "connections": connections, "bytes": float(volume.median())}


def _relay_costs(place: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(strategy, phase) -> relay at 0 ms over direct, with its 95% interval: the contrast of the
    blocked model over the rounds that hold both."""
    zero = place[place["latency_ms"] == 0]
    if not zero["via_relay"].astype(bool).any() or zero["via_relay"].astype(bool).all():
        return {}
    costs = {}
    for phase, rows in zero.groupby("phase", sort=True):
        units = rows["strategy"] + np.where(rows["via_relay"].astype(bool), "+0ms", "")
        model = fit(list(zip(blocks(rows), units, rows["duration_s"].astype(float))))
        for strategy in sorted(set(rows["strategy"])):
            if model is None or strategy not in model.strategies or f"{strategy}+0ms" not in model.strategies:
                continue
            estimate, se, df = model.contrast(strategy, f"{strategy}+0ms")
            half = t_quantile(df) * se if df >= 1 and math.isfinite(se) else math.nan
            costs[(strategy, phase)] = (math.exp(estimate), math.exp(estimate - half), math.exp(estimate + half))
    return costs


def _place_rows(place: pd.DataFrame, where: dict, rtts: dict) -> list[dict]:
    models = {}
    for (strategy, phase), part in place.groupby(["strategy", "phase"], sort=True):
        local, local_path = _local(part)
        wire = _turns(part)
        if local.empty or not wire:
            continue
        technique = part["technique"].iloc[0]
        local_s, local_rtt = geometric_mean_ci(local["duration_s"].to_numpy(float))[0], _rtt_of(local, local_path, rtts)
        models[(strategy, phase)] = dict(
            local_s=local_s, local_rtt_ms=local_rtt, **wire,
            rtt_half_ms=(0.0 if math.isnan(local_rtt) else local_rtt) + 1000 * local_s / wire["turns"]
            if wire["turns"] > 0 else math.nan,
            transfer_ms=1000 * 8 * wire["bytes"] / LINK_BITS_PER_S, technique=technique,
            family=family(technique, wire["round_trips"] / where["items"]), reference=bool(part["reference"].any()))
    relay_costs = _relay_costs(place)
    latencies = sorted(set(place.loc[place["via_relay"].astype(bool) & (place["latency_ms"] > 0), "latency_ms"]))
    rows = []
    for (strategy, phase), model in models.items():
        others = [m for (s, p), m in models.items() if p == phase and not m["reference"]]
        part = place[(place["strategy"] == strategy) & (place["phase"] == phase)]
        cost = relay_costs.get((strategy, phase), (math.nan,) * 3)
        relay0_rtt = _rtt_of(part[part["via_relay"].astype(bool) & (part["latency_ms"] == 0)], 0.0, rtts)
        common = {**where, "strategy": strategy, "phase": phase, **model, "relay0_rtt_ms": relay0_rtt,
                  "rtt_2x_fastest_ms": crossover(model, others, 2), "rtt_10x_fastest_ms": crossover(model, others, 10),
                  "relay0_over_direct": cost[0], "relay0_low": cost[1], "relay0_high": cost[2], "interval": INTERVAL}
        for rtt in sorted(set(RTTS_MS) | set(latencies)):
            measured = part[part["via_relay"].astype(bool) & (part["latency_ms"] == rtt)]
            real_rtt = _rtt_of(measured, rtt, rtts) if len(measured) else rtt
            real_rtt = rtt if math.isnan(real_rtt) else real_rtt
            rows.append({**common, "rtt_ms": rtt, "measured_rtt_ms": real_rtt,
                         "predicted_s": float(predicted(model, rtt)),
                         **_check(model, real_rtt, measured["duration_s"].to_numpy(float))})
    return rows


def predicted(model: dict, rtt_ms) -> np.ndarray | float:
    """local + turns x (rtt - the local round-trip time), in seconds."""
    local_rtt = 0.0 if math.isnan(model["local_rtt_ms"]) else model["local_rtt_ms"]
    return model["local_s"] + model["turns"] * np.maximum(np.asarray(rtt_ms, dtype=float) - local_rtt, 0) / 1000


def _check(model: dict, rtt_ms: float, durations: np.ndarray) -> dict:
    """The passes measured through the relay against the prediction at the round-trip time
    measured through it."""
    guess = float(predicted(model, rtt_ms))
    if not len(durations):
        return {"predicted_at_measured_rtt_s": guess, "measured": False, "measured_s": math.nan, "measured_low": math.nan,
                "measured_high": math.nan, "n": 0, "measured_over_predicted": math.nan, "latency_share": math.nan,
                "checked": False, "within_15pct": math.nan}
    mean, low, high = geometric_mean_ci(durations)
    share = (guess - model["local_s"]) / mean
    ratio = mean / guess
    return {"predicted_at_measured_rtt_s": guess, "measured": True, "measured_s": mean, "measured_low": low, "measured_high": high,
            "n": len(durations), "measured_over_predicted": ratio, "latency_share": share,
            "checked": bool(share >= CHECKED_SHARE), "within_15pct": bool(abs(ratio - 1) <= WITHIN)}


def crossover(model: dict, others: list[dict], times: float) -> float:
    """The round-trip time (ms) from which `model` predicts `times` the fastest of `others` (its
    own phase, the floor left out): 0 when it does already at no distance, NaN when not below
    GRID_MS's end (1 s)."""
    if not others:
        return math.nan
    fastest = np.min([predicted(m, GRID_MS) for m in others], axis=0)
    over = np.nonzero(predicted(model, GRID_MS) >= times * fastest)[0]
    if not len(over):
        return math.nan
    return 0.0 if over[0] == 0 else float(GRID_MS[over[0]])


COPY, MULTI_ROW, PER_ROW, ORM_MERGE = "COPY", "multi-row statements", "one statement per row", "ORM Session.merge()"
FAMILY_ORDER = (COPY, MULTI_ROW, PER_ROW, ORM_MERGE)


def family(technique: str, round_trips_per_item: float) -> str:
    """How a strategy meets the wire in a phase: COPY and ORM merge by their technique; any
    other by what it did, a round trip per row or more (one statement per row, whatever its
    technique says: SQLAlchemy's `bulk_update_mappings` runs one UPDATE per row) or fewer."""
    if str(technique).startswith("copy"):
        return COPY
    if technique == "merge":
        return ORM_MERGE
    return PER_ROW if round_trips_per_item >= 1 else MULTI_ROW
