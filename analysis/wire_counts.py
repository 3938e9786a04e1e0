"""wire.csv: what each strategy sent over the wire, from the relay's counts of its
memory-tracked passes (`round_trips`, `bytes_...`: experiments/servers/relay.py).

One row per place (items, threads, server, machine, the variant without the relay; the counts do
not depend on the latency the timed passes ran at), strategy and phase: how many passes were
counted (`n`), the median of each count, the least and most round trips, and `identical`: every
counted pass made the same round trips and moved the same bytes. A strategy that waits for every
answer repeats its counts exactly; one that pipelines may not (usage.md, the wire).
`round_trips_per_item` is what grows with the data: about 2 for one statement per row; `family`
says how the strategy met the wire in that phase (analysis.distance.family).
"""

from __future__ import annotations

import pandas as pd

from analysis.distance import PLACE, base_variant, family

COUNTS = ["wire_connections", "round_trips", "round_trips_max_connection", "bytes_to_server", "bytes_from_server"]
COLUMNS = [*PLACE, "strategy", "phase", "technique", "family", "reference", "n", *COUNTS, "round_trips_min", "round_trips_max",
           "identical", "round_trips_per_item", "bytes_per_item"]


def wire_counts(passes: pd.DataFrame) -> pd.DataFrame:
    if "round_trips" not in passes:
        return pd.DataFrame(columns=COLUMNS)
    counted = passes[passes["success"].astype(bool) & passes["round_trips"].notna()]
    if counted.empty:
        return pd.DataFrame(columns=COLUMNS)
    counted = counted.assign(variant=counted["variant"].map(base_variant))
    rows = []
    for key, part in counted.groupby([*PLACE, "strategy", "phase"], sort=True):
        medians = part[COUNTS].median()
        volume = medians["bytes_to_server"] + medians["bytes_from_server"]
        technique = part["technique"].iloc[0]
        rows.append({**dict(zip([*PLACE, "strategy", "phase"], key)), "technique": technique,
                     "family": family(technique, medians["round_trips"] / key[0]),
                     "reference": bool(part["reference"].any()), "n": len(part), **medians.to_dict(),
                     "round_trips_min": part["round_trips"].min(), "round_trips_max": part["round_trips"].max(),
                     "identical": bool(part[["round_trips", "bytes_to_server", "bytes_from_server"]]
                                       .nunique().max() == 1),
                     "round_trips_per_item": medians["round_trips"] / key[0], "bytes_per_item": volume / key[0]})
    return pd.DataFrame(rows, columns=COLUMNS)
