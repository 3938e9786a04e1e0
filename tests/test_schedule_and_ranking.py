"""Repeats until the noise is known (experiments.run.schedule) and ties shown as ties
(contract.ranking), on made-up durations: pure logic, no server involved."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

from contract.ranking import rank
from contract.row import PassRow
from experiments.catalog import Strategy
from experiments.config import load_settings
from experiments.run.schedule import MIN_ROUNDS, Schedule

FLOOR = Strategy("floor", Path("floor.py"), tags={"reference": True})
STEADY = Strategy("steady", Path("steady.py"))
NOISY = Strategy("noisy", Path("noisy.py"))
BROKEN = Strategy("broken", Path("broken.py"))


def settings(**changes):
    return dataclasses.replace(load_settings({"REPEAT": "auto"}), **changes)


def row(strategy: str, phase: str, seconds: float | None, success: bool = True, pass_s: float = 1.0) -> PassRow:
    return PassRow(run_id="r", strategy=strategy, phase=phase, repeat=1, items=1, threads=1,
                   backend="embedded", pg_version="18", duration_s=seconds, counts_ok=success,
                   values_ok=success, success=success, test="t", library="x", technique="x",
                   reference=False, order=1, seed=1, server="s", started_at="", pass_s=pass_s)


def play(schedule: Schedule, durations, clock=None, cost=lambda name: 1.0) -> list[list[str]]:
    """Run the schedule to the end; durations(strategy, round) -> seconds or None (failed);
    each pass advances `clock` by cost(strategy) seconds."""
    rounds = []
    while (order := schedule.next_round()) is not None:
        rounds.append(sorted(s.name for s in order))
        for strategy in order:
            for phase in ("insert", "update"):
                seconds = durations(strategy.name, schedule.round)
                schedule.record(row(strategy.name, phase, seconds, seconds is not None, cost(strategy.name)))
                if clock:
                    clock[0] += cost(strategy.name)
        schedule.end_round()
    return rounds


def noisy(name, number):
    return {"floor": 0.1, "steady": 0.5, "broken": None}.get(name, 1.0 + (number % 2) * 0.5)


def test_fixed_repeat_runs_every_strategy_that_many_times():
    rounds = play(Schedule([FLOOR, STEADY, NOISY], settings(repeat=4), 1, "s"), noisy)
    assert rounds == [["floor", "noisy", "steady"]] * 4


def test_auto_settles_the_steady_runs_the_noisy_to_the_maximum_and_stops_the_broken():
    schedule = Schedule([FLOOR, STEADY, NOISY, BROKEN], settings(max_repeat=6, budget=10_000), 1, "s")
    rounds = play(schedule, noisy)
    report = schedule.report()
    assert report["steady"] == {**report["steady"], "repeats": MIN_ROUNDS, "stopped": "settled"}
    assert report["noisy"]["repeats"] == 6 and report["noisy"]["stopped"] == "max repeats"
    assert report["broken"]["repeats"] == 1 and report["broken"]["stopped"] == "failed"
    assert all("floor" in names for names in rounds)  # every round is a block with the floor
    assert [name for name, *_ in schedule.unstable()] == ["noisy", "noisy"]


def test_the_budget_stops_the_run_but_every_strategy_runs_once():
    clock = [0.0]
    schedule = Schedule([FLOOR, STEADY, NOISY], settings(budget=1), 1, "s", clock=lambda: clock[0])
    rounds = play(schedule, noisy, clock)
    assert rounds == [["floor", "noisy", "steady"]]
    assert {entry["stopped"] for entry in schedule.report().values()} == {"budget"}


def test_when_the_budget_runs_short_the_costliest_stop_first_and_the_cheap_go_on():
    clock = [0.0]
    costly, cheap = Strategy("costly", Path("costly.py")), Strategy("cheap", Path("cheap.py"))
    cost = {"floor": 0.5, "costly": 10.0, "cheap": 1.0}.get
    schedule = Schedule([FLOOR, costly, cheap], settings(budget=60, max_repeat=15), 1, "s",
                        clock=lambda: clock[0])
    rounds = play(schedule, lambda name, number: 0.1 if name == "floor" else 1.0 + (number % 2) * 0.5,
                  clock, cost)  # never settles
    report = schedule.report()
    # a round of all three costs 23 s: two fit in 60 s; then only the floor and `cheap` (3 s a round)
    assert rounds[:2] == [["cheap", "costly", "floor"]] * 2 and report["costly"]["repeats"] == 2
    assert report["costly"]["stopped"] == "budget" and all(r == ["cheap", "floor"] for r in rounds[2:])
    assert report["cheap"]["repeats"] == len(rounds) == 2 + (60 - 46) // 3
    assert clock[0] <= 60


def test_settled_means_its_x_floor_is_pinned_down_not_only_its_own_duration():
    """Steady against a floor that jumps by 30% between rounds: its own durations agree to 0.1%,
    its ratio to the floor does not, so it is not settled after MIN_ROUNDS."""
    schedule = Schedule([FLOOR, STEADY], settings(max_repeat=6, budget=10_000), 1, "s")
    play(schedule, lambda name, number: 0.1 * (1.3 if number % 2 else 1.0) if name == "floor" else 0.5)
    report = schedule.report()["steady"]
    assert report["cv_pct"]["insert"] == 0 and report["repeats"] == 6 and report["stopped"] == "max repeats"


def blocks(durations: dict[str, list[float]]):
    return [(block, name, seconds, name == "floor") for name, values in durations.items()
            for block, seconds in enumerate(values)]


def test_clearly_apart_strategies_get_their_own_ranks_and_ties_share_a_band():
    jitter = [1.0, 1.02, 0.98, 1.01, 0.99]
    ranked = {r.strategy: r for r in rank(blocks({
        "floor": [0.1 * j for j in jitter],
        "fast": [0.2 * j for j in jitter], "fast_too": [0.2 * j for j in reversed(jitter)],
        "slow": [2.0 * j for j in jitter]}))}
    assert ranked["floor"].band == "floor"
    assert ranked["fast"].band == ranked["fast_too"].band == "1-2"
    assert ranked["slow"].band == "3"
    # the machine's drift (the same jitter in every block) cancels within blocks: exactly 2x
    assert ranked["fast"].floor_low == ranked["fast"].floor_ratio == ranked["fast"].floor_high == 2.0
    assert ranked["fast_too"].floor_low < 2 < ranked["fast_too"].floor_high  # its jitter runs the other way


def test_below_the_floor_is_flagged_not_ranked_first():
    ranked = {r.strategy: r for r in rank(blocks({"floor": [1.0, 1.01, 0.99], "magic": [0.5, 0.52, 0.49],
                                                  "honest": [1.5, 1.52, 1.49]}))}
    assert ranked["magic"].below_floor and ranked["magic"].band == "suspect"
    assert ranked["honest"].band == "1"


def test_one_repeat_establishes_nothing():
    ranked = rank(blocks({"floor": [0.1], "a": [0.2], "b": [5.0]}))
    assert [r.band for r in ranked] == ["floor", "1-2", "1-2"]


def test_ranking_is_the_same_whatever_the_input_order():
    data = blocks({"floor": [1, 1.1, 0.9], "a": [2, 2.1, 1.9], "b": [4, 4.2, 3.9]})
    results = {tuple((r.strategy, r.band) for r in rank(list(p))) for p in itertools.islice(
        itertools.permutations(data), 0, 200, 37)}
    assert len(results) == 1
