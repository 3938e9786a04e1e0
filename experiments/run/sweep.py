"""`nox -s sweep -- --items 1000,10000,100000 --threads 1,2,4,8`: the scaling grid.

Every grid point is an ordinary run (its own run folder, its own fresh server), tagged in its
manifest with the sweep's id and grid, so `make figures` can fit how duration and memory grow
with items and how threaded strategies speed up with threads. Thread counts change nothing for
a strategy that is not threaded, so only the threaded ones run at thread counts after the first.
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
    catalogue = preflight(settings).strategies  # a bad setting is one line before the harness loads
    sweep_id = datetime.now(timezone.utc).strftime("sweep-%Y%m%d-%H%M%S")
    threaded = ",".join(s.name for s in catalogue if s.tags.get("threaded"))
    points = [(n, t) for n in items for t in threads if t == threads[0] or threaded]
    # one lock across the whole sweep: no other run slips in between two grid points; each
    # point's Runner enters it again (run/lock.py)
    with one_run_at_a_time(sweep_id, settings.allow_concurrent):
        return _run_points(settings, points, sweep_id, items, threads, threaded, echo)


def _run_points(settings: Settings, points, sweep_id: str, items, threads, threaded: str, echo) -> int:
    from experiments.run.runner import Runner

    status = 0
    for number, (n, t) in enumerate(points, start=1):
        names = settings.strategies if t == threads[0] else threaded
        echo(f"sweep {sweep_id}: point {number}/{len(points)}: {n:,} items, {t} threads")
        # a layer of its own, so that config.env and the manifest record the point, not the base
        point = settings.override("sweep", {"TOTAL_ITEMS": str(n), "TOTAL_THREADS": str(t),
                                            "STRATEGIES": names})
        code = Runner(point, sweep={"id": sweep_id, "items": items, "threads": threads, "point": [n, t]}).run()
        if code == 130:
            return 130
        status = max(status, code)
    return status
