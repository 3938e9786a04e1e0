"""`nox -s sweep -- --items 1000,10000,100000 --threads 1,2,4,8`: the scaling grid.

Every item count is an ordinary run (its own run folder, its own fresh server), tagged in its
manifest with the sweep's id and grid, so `make figures` can fit how duration and memory grow
with items. The thread counts are not runs of their own: each run interleaves them
(TOTAL_THREADS=1,2,4,8; experiments/run/schedule.py), every round running the threaded strategies
and the floor at each count, so the speed-up with threads is measured within rounds, against
the same drift, instead of between runs whose machine speed differed (the floor itself showed a
0.97x "speed-up" between two such runs).
"""

from __future__ import annotations

from datetime import datetime, timezone

from contract.errors import UsageError
from experiments.config import Settings
from experiments.run.lock import one_run_at_a_time
from experiments.run.preflight import preflight


def parse_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{name} must be comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"{name} must list numbers of at least 1, got {text!r}")
    return sorted(set(values))


def run_sweep(settings: Settings, items: list[int], threads: list[int], echo=print) -> int:
    preflight(settings)  # a bad setting is one line before the harness loads
    sweep_id = datetime.now(timezone.utc).strftime("sweep-%Y%m%d-%H%M%S")
    # one lock across the whole sweep: no other run slips in between two grid points; each
    # point's Runner enters it again (run/lock.py)
    with one_run_at_a_time(sweep_id, settings.allow_concurrent):
        return _run_points(settings, items, sweep_id, threads, echo)


def _run_points(settings: Settings, items: list[int], sweep_id: str, threads: list[int], echo) -> int:
    from experiments.run.runner import Runner

    status = 0
    counts = ",".join(map(str, threads))
    for number, n in enumerate(items, start=1):
        echo(f"sweep {sweep_id}: point {number}/{len(items)}: {n:,} items, threads {counts}")
        # a layer of its own, so that config.env and the manifest record the point, not the base
        point = settings.override("sweep", {"TOTAL_ITEMS": str(n), "TOTAL_THREADS": counts})
        code = Runner(point, sweep={"id": sweep_id, "items": items, "threads": threads, "point": [n, *threads]}).run()
        if code == 130:
            return 130
        status = max(status, code)
    return status
