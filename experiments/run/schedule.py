"""Which strategies run in each round, and when the run stops.

A round (a repeat, a block) runs every chosen strategy once, insert then update, in an order
shuffled with the run's seed.
- `--repeat N`: N rounds of every strategy.
- `--repeat auto` (the default): rounds until each strategy is settled: the interval the
  summary publishes, the 95% t-interval of its `x floor` from the blocked model
  (`contract.ranking`: log duration = strategy + round over every pass of the phase; without a
  floor, the t-interval of its own durations), lies within +-TARGET percent in both phases, after
  at least its minimum rounds (below). A strategy also stops at
  MAX_REPEAT rounds, after a round in which it failed every pass, or when the run's BUDGET
  (seconds since this server's rounds started) would be passed by the next round, estimated from
  the last passes of the strategies still running: then the costliest strategies stop first
  ("budget") and the cheap ones, whose intervals are the widest relative to their duration, go on
  while they fit. But no strategy stops for the budget before its minimum rounds (MIN_ROUNDS;
  MIN_ROUNDS_CHEAP for passes under CHEAP_S, where an interval from 3 rounds that happened to be
  narrow stops too early): the budget grows to the catalogue's cost instead, and `plan()` says
  so after the first round. `--repeat N` is the way to a shorter run. Reference rows
  (the floor) run in every round, so every round is a block in which each strategy's ratio to
  the floor can be formed.
Like pyperf, a strategy whose coefficient of variation stays above UNSTABLE_CV is reported
unstable. Several thread counts or latencies: units (`experiments/run/units.py`), each with its
own interval, against the floor at its own thread count and latency.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import defaultdict

from contract.blocked_model import fit
from contract.ranking import geometric_interval, rank
from contract.row import PassRow
from experiments.catalog import Strategy
from experiments.config import Settings
from experiments.run.units import Unit, unit_of, units

MIN_ROUNDS = 3  # a strategy's rounds at least (its passes take a second or more)
MIN_ROUNDS_CHEAP = 5  # ... when its passes take under CHEAP_S: they cost little, and an interval
CHEAP_S = 1.0  # from 3 rounds that stopped because it happened to be narrow undercovers
SLOW_ROUND_MADS = 3.5  # a round this many (normal-scaled) median absolute deviations off is slow
MIN_ROUNDS_FOR_MAD = 5
UNSTABLE_CV = 0.10  # pyperf's threshold: standard deviation above 10% of the mean


class Schedule:
    def __init__(self, strategies: list[Strategy], settings: Settings, seed: int, label: str, clock=time.monotonic):
        self.strategies = units(strategies, settings.thread_counts, settings.latencies)  # what rounds run
        self.settings = settings
        self.seed, self.label, self.clock = seed, label, clock
        self.started = clock()  # reset by start() when the first round is about to run
        self.round = 0
        self.durations: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)  # round -> s
        self.config_of = {u.name: u.config for u in self.strategies}  # (threads, latency)
        self.references = {u.config: u.name for u in self.strategies if u.is_reference}  # floor per config
        self.rounds_run: dict[str, int] = defaultdict(int)
        self.failed_this_round: dict[str, int] = defaultdict(int)
        # seconds its passes took in its last round, less their memory processes when the next
        # rounds measure no memory: what a round costs, for the budget and plan()
        self.last_pass_s: dict[str, float] = {}
        self.this_round_s: dict[str, float] = defaultdict(float)
        self.stopped: dict[str, str] = {}  # strategy -> why it stopped
        self._ranked: dict[str, tuple] = {}  # phase -> (passes it was fitted on, its ranking)

    def start(self) -> None:
        """The budget's clock starts now (after the server is up and the rows are staged)."""
        self.started = self.clock()

    @property
    def auto(self) -> bool:
        return self.settings.repeat is None

    def total_passes(self) -> int | None:
        return None if self.auto else self.settings.repeat * len(self.strategies) * len(self.settings.phases)

    def describe(self) -> str:
        if not self.auto:
            return f"{self.settings.repeat} repeats"
        s = self.settings
        return f"repeats auto (+-{s.target:g}%, {MIN_ROUNDS}-{s.max_repeat} rounds, budget {s.budget} s)"

    def next_round(self) -> list[Unit] | None:
        """The units of the next round, shuffled; None when the run is done."""
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

    def _within_budget(self, active: list[Unit]) -> list[Unit]:
        """The active strategies of the next round. A strategy short of its minimum rounds
        (`min_rounds`) always runs: the budget grows to the catalogue's cost rather than leave a
        strategy unranked (`plan()` says by how much). The others run while the round's estimate
        (each strategy's last passes) fits what is left of the budget after them: the costliest
        stops first ("budget"), so the cheap strategies, the noisiest relative to their duration,
        keep gaining repeats. The round is empty when no strategy but the floor is left."""
        left = self.settings.budget - (self.clock() - self.started)
        cost = {s.name: self.last_pass_s.get(s.name, 0.0) for s in active}
        owed = [s for s in active if not s.is_reference and self.rounds_run[s.name] < self.min_rounds(s.name)]
        kept = sorted((s for s in active if s not in owed), key=lambda s: (s.is_reference, -cost[s.name]))
        while kept and not kept[0].is_reference and sum(cost[s.name] for s in kept + owed) > left:
            self.stopped.setdefault(kept.pop(0).name, "budget")
        if not owed and not any(not s.is_reference for s in kept):
            for s in kept:
                self.stopped.setdefault(s.name, "budget")
            return []
        return [s for s in active if s in kept or s in owed]

    def plan(self) -> str:
        """After the first round: what the minimum rounds still cost, and when the run should end,
        from each strategy's last passes (one line for the console)."""
        owed = sum(self.last_pass_s.get(s.name, 0.0) * max(self.min_rounds(s.name) - self.rounds_run[s.name], 0)
                   for s in self.strategies if not s.is_reference and s.name not in self.stopped)
        rounds = max((self.min_rounds(s.name) - self.rounds_run[s.name] for s in self.strategies
                      if not s.is_reference and s.name not in self.stopped), default=0)
        owed += rounds * sum(self.last_pass_s.get(s.name, 0.0) for s in self.strategies if s.is_reference)
        spent = self.clock() - self.started
        total = max(self.settings.budget, spent + owed)
        grown = (f"; the minimum rounds need {spent + owed:,.0f} s, more than the budget of "
                 f"{self.settings.budget:,} s: it grows to that" if spent + owed > self.settings.budget else "")
        about = f"{total:,.0f} s" if total < 120 else f"{total / 60:,.0f} min"
        return (f"round 1 took {spent:,.0f} s; the run should take about {about} in all "
                f"(at least {MIN_ROUNDS} rounds per strategy, {MIN_ROUNDS_CHEAP} for passes under "
                f"{CHEAP_S:g} s, then more for unsettled ones within the budget{grown})")

    def record(self, row: PassRow) -> None:
        name = unit_of(row, self.settings)
        spent = row.pass_s or 0.0
        if not self._measures_memory(self.round + 1):
            spent -= row.memory_wall_s or 0.0
        self.this_round_s[name] += max(spent, 0.0)
        if row.success and row.duration_s:
            self.durations[(name, row.phase)][self.round] = row.duration_s
        else:
            self.failed_this_round[name] += 1

    def end_round(self) -> None:
        for strategy in self.strategies:
            name = strategy.name
            if name in self.stopped or not self._ran(name):
                continue
            self.rounds_run[name] += 1
            if not self.auto or strategy.is_reference:
                continue
            widths = [self.half_width(name, phase) for phase in self.settings.phases]
            if self.failed_this_round[name] == len(self.settings.phases):
                self.stopped[name] = "failed"
            elif self.rounds_run[name] >= self.min_rounds(name) and all(w <= self.settings.target for w in widths):
                self.stopped[name] = "settled"
            elif self.rounds_run[name] >= self.settings.max_repeat:
                self.stopped[name] = "max repeats"
        self.last_pass_s.update(self.this_round_s)

    def _measures_memory(self, number: int) -> bool:
        """Does round `number` run the memray-tracked process too (--memory-repeats)?"""
        return bool(self.settings.measure_memory) and number <= self.settings.memory_repeats

    def min_rounds(self, name: str) -> int:
        """MIN_ROUNDS_CHEAP for a strategy whose passes (its median, the slower phase) take under
        CHEAP_S, else MIN_ROUNDS."""
        medians = [statistics.median(v.values()) for p in self.settings.phases if (v := self.durations.get((name, p)))]
        return MIN_ROUNDS_CHEAP if medians and max(medians) < CHEAP_S else MIN_ROUNDS

    def _ran(self, name: str) -> bool:
        return name in self.this_round_s

    def half_width(self, strategy: str, phase: str) -> float:
        """Half-width of the interval the summary publishes, percent of the central value: its
        x floor's from the blocked model (contract.ranking; inf until it has one); for the floor
        itself, or without one, the 95% t-interval of its own durations (inf below 2 values)."""
        config = self.config_of.get(strategy, (self.settings.threads, None))
        reference = self.references.get(config)
        if reference is not None and strategy != reference:
            entry = self._ranking(phase, *config).get(strategy)
            if entry is None or entry.floor_low is None or entry.floor_ratio is None:
                return math.inf
            return 100 * max(entry.floor_high / entry.floor_ratio - 1, 1 - entry.floor_low / entry.floor_ratio)
        logs = [math.log(v) for v in self.durations.get((strategy, phase), {}).values()]
        if len(logs) < 2:
            return math.inf
        mean, low, high = geometric_interval(logs)
        return 100 * max(high / mean - 1, 1 - low / mean)

    def _ranking(self, phase: str, threads: int, latency: float | None = None) -> dict:
        """The blocked model over this phase's passes so far (a block: one round) of the units
        at this thread count and latency (the analysis's configuration), by unit."""
        config = (threads, latency)
        reference = self.references.get(config)
        passes = [(r, s, seconds, s == reference) for (s, p), rounds in self.durations.items()
                  if p == phase and self.config_of.get(s) == config for r, seconds in rounds.items()]
        key = (phase, config, len(passes))
        if self._ranked.get((phase, config), (None,))[0] != key:
            self._ranked[(phase, config)] = (key, rank(passes).by_strategy())
        return self._ranked[(phase, config)][1]

    def slow_rounds(self) -> dict[str, list[int]]:
        """Per phase, the rounds whose effect in the blocked model lies beyond SLOW_ROUND_MADS
        median absolute deviations of the others' (at least MIN_ROUNDS_FOR_MAD rounds): recorded
        in the manifest. The model charges such a round to the round, not to its strategies; a
        round slow for only some of its strategies shows as their noise, widening their
        intervals, and the schedule gives them more rounds."""
        found = {}
        for phase in self.settings.phases:
            model = fit([(r, s, seconds) for (s, p), rounds in self.durations.items()
                         if p == phase for r, seconds in rounds.items()])
            effects = model.block_effects if model else {}
            if len(effects) < MIN_ROUNDS_FOR_MAD:
                found[phase] = []
                continue
            middle = statistics.median(effects.values())
            mad = statistics.median(abs(v - middle) for v in effects.values())
            found[phase] = sorted(r for r, v in effects.items() if mad and abs(v - middle) > SLOW_ROUND_MADS * 1.4826 * mad)
        return found

    def cv(self, strategy: str, phase: str) -> float | None:
        values = list(self.durations.get((strategy, phase), {}).values())
        return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else None

    def unstable(self) -> list[tuple[str, str, float]]:
        return [(s.name, phase, cv) for s in self.strategies for phase in self.settings.phases
                if (cv := self.cv(s.name, phase)) is not None and cv > UNSTABLE_CV]

    def report(self) -> dict:
        """For the manifest: per strategy, its repeats, why it stopped, and its interval widths."""
        def number(value):
            return None if value is None or math.isinf(value) else round(value, 2)
        return {s.name: {"repeats": self.rounds_run[s.name], "stopped": self.stopped.get(s.name, ""),
                         "half_width_pct": {p: number(self.half_width(s.name, p)) for p in self.settings.phases},
                         "cv_pct": {p: number(None if (cv := self.cv(s.name, p)) is None else 100 * cv)
                                    for p in self.settings.phases}}
                for s in self.strategies}
