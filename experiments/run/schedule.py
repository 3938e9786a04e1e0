"""Which strategies run in each round, and when the run stops.

A round (a repeat, a block) runs every chosen strategy once, insert then update, in an order
shuffled with the run's seed.
- `--repeat N`: N rounds of every strategy.
- `--repeat auto` (the default): rounds until each strategy is settled: the interval the
  summary publishes, the 95% t-interval of its `x floor` (the geometric mean of its
  within-round ratios to the floor, `contract.ranking.geometric_interval`; without a floor, of
  its duration), lies within +-TARGET percent in both phases, after at least MIN_ROUNDS rounds.
  The floor's own noise is in that interval: a strategy steadier than a noisy floor still
  needs the rounds that pin its ratio down. A strategy also stops at
  MAX_REPEAT rounds, after a round in which it failed every pass, or when the run's BUDGET
  (seconds since this server's rounds started) would be passed by the next round, estimated from
  the last passes of the strategies still running: then the costliest strategies stop first
  ("budget") and the cheap ones, whose intervals are the widest relative to their duration, go on
  while they fit. Every strategy runs in the first round whatever the budget. Reference rows
  (the floor) run in every round, so every round is a block in which each strategy's ratio to
  the floor can be formed.
Like pyperf, a strategy whose coefficient of variation stays above UNSTABLE_CV is reported
unstable.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import defaultdict

from contract.ranking import geometric_interval
from contract.row import PassRow
from contract.workload import PHASES
from experiments.catalog import Strategy
from experiments.config import Settings

MIN_ROUNDS = 3
UNSTABLE_CV = 0.10  # pyperf's threshold: standard deviation above 10% of the mean


class Schedule:
    def __init__(self, strategies: list[Strategy], settings: Settings, seed: int, label: str,
                 clock=time.monotonic):
        self.strategies = strategies
        self.settings = settings
        self.seed, self.label, self.clock = seed, label, clock
        self.started = clock()  # reset by start() when the first round is about to run
        self.round = 0
        self.durations: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)  # round -> s
        self.reference = next((s.name for s in strategies if s.is_reference), None)
        self.rounds_run: dict[str, int] = defaultdict(int)
        self.failed_this_round: dict[str, int] = defaultdict(int)
        self.last_pass_s: dict[str, float] = {}  # seconds its passes took in its last round
        self.this_round_s: dict[str, float] = defaultdict(float)
        self.stopped: dict[str, str] = {}  # strategy -> why it stopped

    def start(self) -> None:
        """The budget's clock starts now (after the server is up and the rows are staged)."""
        self.started = self.clock()

    @property
    def auto(self) -> bool:
        return self.settings.repeat is None

    def total_passes(self) -> int | None:
        return None if self.auto else self.settings.repeat * len(self.strategies) * len(PHASES)

    def describe(self) -> str:
        if not self.auto:
            return f"{self.settings.repeat} repeats"
        s = self.settings
        return f"repeats auto (+-{s.target:g}%, {MIN_ROUNDS}-{s.max_repeat} rounds, budget {s.budget} s)"

    def next_round(self) -> list[Strategy] | None:
        """The strategies of the next round, shuffled; None when the run is done."""
        number = self.round + 1
        if not self.auto:
            active = self.strategies if number <= self.settings.repeat else []
        else:
            active = [s for s in self.strategies if s.name not in self.stopped]
            if not any(not s.is_reference for s in active):
                active = []
            elif number > 1:
                active = self._within_budget(active)
        if not active:
            for s in self.strategies:
                self.stopped.setdefault(s.name, "fixed count" if not self.auto else "others done")
            return None
        self.round = number
        self.failed_this_round.clear()
        self.this_round_s.clear()
        order = list(active)
        random.Random(f"{self.seed}:{self.label}:{number}").shuffle(order)
        return order

    def _within_budget(self, active: list[Strategy]) -> list[Strategy]:
        """The active strategies whose next round still fits the budget: while the round's
        estimate (each strategy's last passes) overruns, the costliest strategy stops ("budget"),
        so the cheap strategies, the noisiest relative to their duration, keep gaining repeats.
        The round is empty when not even the floor and one strategy fit."""
        left = self.settings.budget - (self.clock() - self.started)
        cost = {s.name: self.last_pass_s.get(s.name, 0.0) for s in active}
        kept = sorted(active, key=lambda s: (s.is_reference, -cost[s.name]))  # costliest first
        while kept and not kept[0].is_reference and sum(cost[s.name] for s in kept) > left:
            self.stopped.setdefault(kept.pop(0).name, "budget")
        if not any(not s.is_reference for s in kept) or sum(cost[s.name] for s in kept) > left:
            for s in kept:
                self.stopped.setdefault(s.name, "budget")
            return []
        return [s for s in active if s in kept]

    def record(self, row: PassRow) -> None:
        self.this_round_s[row.strategy] += row.pass_s or 0.0
        if row.success and row.duration_s:
            self.durations[(row.strategy, row.phase)][self.round] = row.duration_s
        else:
            self.failed_this_round[row.strategy] += 1

    def end_round(self) -> None:
        for strategy in self.strategies:
            name = strategy.name
            if name in self.stopped or not self._ran(name):
                continue
            self.rounds_run[name] += 1
            if not self.auto or strategy.is_reference:
                continue
            widths = [self.half_width(name, phase) for phase in PHASES]
            if self.failed_this_round[name] == len(PHASES):
                self.stopped[name] = "failed"
            elif self.rounds_run[name] >= MIN_ROUNDS and all(w <= self.settings.target for w in widths):
                self.stopped[name] = "settled"
            elif self.rounds_run[name] >= self.settings.max_repeat:
                self.stopped[name] = "max repeats"
        self.last_pass_s.update(self.this_round_s)

    def _ran(self, name: str) -> bool:
        return name in self.this_round_s

    def half_width(self, strategy: str, phase: str) -> float:
        """Half-width of the 95% interval of its x floor (its duration's, for the floor itself or
        without one), percent of the central value (inf below 2 values)."""
        values = self.durations.get((strategy, phase), {})
        floor = self.durations.get((self.reference, phase), {}) if self.reference != strategy else None
        if floor is None:
            logs = [math.log(v) for v in values.values()]
        else:
            logs = [math.log(v / floor[r]) for r, v in values.items() if r in floor]
        if len(logs) < 2:
            return math.inf
        mean, low, high = geometric_interval(logs)
        return 100 * max(high / mean - 1, 1 - low / mean)

    def cv(self, strategy: str, phase: str) -> float | None:
        values = list(self.durations.get((strategy, phase), {}).values())
        return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else None

    def unstable(self) -> list[tuple[str, str, float]]:
        return [(s.name, phase, cv) for s in self.strategies for phase in PHASES
                if (cv := self.cv(s.name, phase)) is not None and cv > UNSTABLE_CV]

    def report(self) -> dict:
        """For the manifest: per strategy, its repeats, why it stopped, and its interval widths."""
        def number(value):
            return None if value is None or math.isinf(value) else round(value, 2)
        return {s.name: {"repeats": self.rounds_run[s.name], "stopped": self.stopped.get(s.name, ""),
                         "half_width_pct": {p: number(self.half_width(s.name, p)) for p in PHASES},
                         "cv_pct": {p: number(None if (cv := self.cv(s.name, p)) is None else 100 * cv)
                                    for p in PHASES}}
                for s in self.strategies}
