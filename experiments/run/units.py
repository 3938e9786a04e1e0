"""What a round runs: `Unit`, a strategy at a thread count and an added latency.

A run of one thread count and one latency runs every strategy once per round, under its own
name. A run of several thread counts (`--threads 1,2,4`) runs the threaded strategies and the
floor at every count and the others, which threads do not change, at the smallest: units named
`name@threads`. A run of several latencies (`--latency direct,1,5`) runs every strategy at each,
since latency changes every strategy's duration: `name+1ms`, `name+direct`. All are shuffled into
the same rounds (experiments/run/schedule.py), so every round is a block holding every thread
count, latency and floor: a speed-up or the cost of a distance is a contrast within rounds
(analysis/scaling.py), not a ratio between runs whose machine speed drifted apart. A unit's
`x floor` is against the floor at its own thread count and latency.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.catalog import Strategy


@dataclass(frozen=True)
class Unit:
    """What a round runs once: a strategy at a thread count and an added latency (None: direct).
    `name` is the strategy's name, with `@threads` in a run of several thread counts and
    `+<latency>ms` (or `+direct`) in a run of several latencies."""

    strategy: Strategy
    threads: int
    name: str
    latency: float | None = None

    @property
    def is_reference(self) -> bool:
        return self.strategy.is_reference

    @property
    def config(self) -> tuple[int, float | None]:
        """What its x floor is formed within: its thread count and latency."""
        return self.threads, self.latency


def unit_name(strategy: str, threads: int, interleaved: bool, latency: float | None = None,
              latencies_interleaved: bool = False) -> str:
    name = f"{strategy}@{threads}" if interleaved else strategy
    if latencies_interleaved:
        name += "+direct" if latency is None else f"+{latency:g}ms"
    return name


def units(strategies: list[Strategy], thread_counts: tuple[int, ...],
          latencies: tuple[float | None, ...] = (None,)) -> list[Unit]:
    """Every strategy at the first thread count; threaded ones and the floor at the others too;
    each of them at every latency."""
    interleaved = len(thread_counts) > 1
    return [Unit(s, t, unit_name(s.name, t, interleaved, latency, len(latencies) > 1), latency)
            for s in strategies for t in thread_counts for latency in latencies
            if t == thread_counts[0] or s.is_reference or s.tags.get("threaded")]


def unit_of(row, settings) -> str:
    """The name of the unit a PassRow was a pass of, in a run of `settings`."""
    return unit_name(row.strategy, row.threads, settings.interleaves_threads, row.latency,
                     settings.interleaves_latencies)
