"""Does the interval the summary publishes cover the truth, after the schedule stopped because it
was narrow? A simulation of `--repeat auto` (experiments.run.schedule with contract.ranking) on
made-up durations with known ratios: a drifting machine, noise of 2%, 5% and 8% per pass (each
strategy its own, 0.5x-1.5x of that), and one round in five slow (+25%) for the strategies that
ran in its second half. Pure computation, but a minute of it: `slow`."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from contract.ranking import rank
from experiments.catalog import Strategy
from experiments.run.schedule import Schedule

from test_schedule import row, settings

TRUE = {"floor": 1.0, "a": 1.1, "b": 1.3, "c": 1.5, "d": 2.0, "e": 3.0, "f": 5.0, "g": 10.0, "h": 30.0}
RUNS = 30  # per noise level: 480 intervals (8 strategies x 2 phases x 30)


def simulate(seed: int, sigma: float, slow_share: float = 0.2) -> tuple[int, int]:
    """(intervals covering the true x floor, intervals) of one simulated run."""
    rng = np.random.default_rng(seed)
    strategies = [Strategy(n, Path(n + ".py"), tags={"reference": True} if n == "floor" else {}) for n in TRUE]
    noise = {n: sigma * rng.uniform(0.5, 1.5) for n in TRUE}
    schedule = Schedule(strategies, settings(max_repeat=15, budget=100_000), seed, "s")
    while (order := schedule.next_round()) is not None:
        drift, slow = rng.normal(0, 0.1), rng.random() < slow_share
        for position, strategy in enumerate(order):
            extra = 0.25 if slow and position >= len(order) // 2 else 0.0
            for phase in ("insert", "update"):
                seconds = 0.1 * TRUE[strategy.name] * math.exp(drift + extra + rng.normal(0, noise[strategy.name]))
                schedule.record(dataclasses.replace(row(strategy.name, phase, seconds, True, 2 * seconds + 0.5),
                                                    repeat=schedule.round))
        schedule.end_round()
    covered = total = 0
    for phase in ("insert", "update"):
        passes = [(r, s, seconds, s == "floor") for (s, p), rounds in schedule.durations.items()
                  if p == phase for r, seconds in rounds.items()]
        for entry in rank(passes).entries:
            if entry.floor_low is not None:
                total += 1
                covered += entry.floor_low <= TRUE[entry.strategy] <= entry.floor_high
    return covered, total


@pytest.mark.slow
@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.08])
def test_the_published_interval_covers_the_truth_after_stopping(sigma):
    results = [simulate(seed, sigma) for seed in range(RUNS)]
    covered, total = map(sum, zip(*results))
    assert total == RUNS * 16
    assert covered / total >= 0.93, f"coverage {covered / total:.3f} at sigma {sigma}"
