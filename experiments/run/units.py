"""What a round runs: `Unit`, a strategy at a thread count.

A run of one thread count runs every strategy once per round, under its own name. A run of
several (`--threads 1,2,4`) runs the threaded strategies and the floor at every count and the
others, which threads do not change, at the smallest: each a unit named `name@threads`, all
shuffled into the same rounds (experiments/run/schedule.py). So every round is a block holding
every thread count and the floor: a speed-up is a contrast within rounds (analysis/scaling.py),
not a ratio between runs whose machine speed drifted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.catalog import Strategy


@dataclass(frozen=True)
class Unit:
    """What a round runs once: a strategy at a thread count. `name` is the strategy's name, or
    `name@threads` in a run of several thread counts."""

    strategy: Strategy
    threads: int
    name: str

    @property
    def is_reference(self) -> bool:
        return self.strategy.is_reference


def unit_name(strategy: str, threads: int, interleaved: bool) -> str:
    return f"{strategy}@{threads}" if interleaved else strategy


def units(strategies: list[Strategy], thread_counts: tuple[int, ...]) -> list[Unit]:
    """Every strategy at the first thread count; threaded ones and the floor at the others too."""
    interleaved = len(thread_counts) > 1
    return [Unit(s, t, unit_name(s.name, t, interleaved)) for s in strategies for t in thread_counts
            if t == thread_counts[0] or s.is_reference or s.tags.get("threaded")]
