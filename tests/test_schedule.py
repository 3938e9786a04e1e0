"""Repeats until the noise is known (experiments.run.schedule), on made-up durations: pure logic,
no server involved. The ranking itself: tests/test_ranking.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from contract.row import PassRow
from experiments.catalog import Strategy
from experiments.config import load_settings
from experiments.run.schedule import MIN_ROUNDS, MIN_ROUNDS_CHEAP, Schedule

FLOOR = Strategy("floor", Path("floor.py"), tags={"reference": True})
STEADY = Strategy("steady", Path("steady.py"))
STEADY_TOO = [Strategy(name, Path(name + ".py")) for name in ("steady_2", "steady_3", "steady_4")]
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
    return {"floor": 0.1, "steady": 0.5, "steady_2": 0.6, "steady_3": 0.7, "steady_4": 0.8,
            "broken": None}.get(name, 1.0 + (number % 2) * 0.5)


def test_fixed_repeat_runs_every_strategy_that_many_times():
    rounds = play(Schedule([FLOOR, STEADY, NOISY], settings(repeat=4), 1, "s"), noisy)
    assert rounds == [["floor", "noisy", "steady"]] * 4


def test_auto_settles_the_steady_runs_the_noisy_to_the_maximum_and_stops_the_broken():
    """The blocked model tells a noisy strategy from a noisy round by the other strategies of the
    round: with several steady ones, the noise is the strategy's, and only it runs on."""
    schedule = Schedule([FLOOR, STEADY, *STEADY_TOO, NOISY, BROKEN], settings(max_repeat=6, budget=10_000), 1, "s")
    rounds = play(schedule, noisy)
    report = schedule.report()
    # its passes take under a second: at least MIN_ROUNDS_CHEAP rounds, then settled at once
    assert report["steady"]["stopped"] == "settled" and report["steady"]["repeats"] == MIN_ROUNDS_CHEAP
    assert report["noisy"]["repeats"] == 6 and report["noisy"]["stopped"] == "max repeats"
    assert report["broken"]["repeats"] == 1 and report["broken"]["stopped"] == "failed"
    assert all("floor" in names for names in rounds)  # every round is a block with the floor
    assert [name for name, *_ in schedule.unstable()] == ["noisy", "noisy"]


def test_no_strategy_stops_for_the_budget_before_its_minimum_rounds():
    """A budget of 1 s: every strategy still gets its minimum rounds (5 under a second, else 3),
    and the plan printed after the first round says the budget grows."""
    clock = [0.0]
    schedule = Schedule([FLOOR, STEADY, NOISY], settings(budget=1), 1, "s", clock=lambda: clock[0])
    rounds = []
    while (order := schedule.next_round()) is not None:
        rounds.append(sorted(s.name for s in order))
        for strategy in order:
            for phase in ("insert", "update"):
                schedule.record(row(strategy.name, phase, noisy(strategy.name, schedule.round), True, 1.0))
                clock[0] += 1.0
        schedule.end_round()
        if schedule.round == 1:
            assert "it grows to that" in schedule.plan() and "about" in schedule.plan()
    report = schedule.report()
    assert report["noisy"]["repeats"] == MIN_ROUNDS and report["steady"]["repeats"] == MIN_ROUNDS_CHEAP
    assert {report[n]["stopped"] for n in ("noisy", "steady")} <= {"budget", "settled"}
    assert rounds[MIN_ROUNDS:] == [["floor", "steady"]] * (MIN_ROUNDS_CHEAP - MIN_ROUNDS)


def test_when_the_budget_runs_short_the_costliest_stop_first_and_the_cheap_go_on():
    clock = [0.0]
    costly, cheap = Strategy("costly", Path("costly.py")), Strategy("cheap", Path("cheap.py"))
    cost = {"floor": 0.5, "costly": 10.0, "cheap": 1.0}.get
    schedule = Schedule([FLOOR, costly, cheap], settings(budget=80, max_repeat=15), 1, "s",
                        clock=lambda: clock[0])
    durations = {"floor": 0.1, "costly": 2.0}
    rounds = play(schedule, lambda name, number: durations.get(name, 0.5 + (number % 2) * 0.25),
                  clock, cost)  # `cheap` never settles
    report = schedule.report()
    # a round of all three costs 23 s: three (the minimum for `costly`, whose passes take 2 s)
    # take 69 s; then only the floor and `cheap` (3 s a round) while they fit in 80 s
    assert rounds[:3] == [["cheap", "costly", "floor"]] * 3 and report["costly"]["repeats"] == 3
    assert report["costly"]["stopped"] == "budget" and all(r == ["cheap", "floor"] for r in rounds[3:])
    assert report["cheap"]["repeats"] == len(rounds) == 3 + (80 - 69) // 3
    assert clock[0] <= 80


def test_settled_means_its_x_floor_is_pinned_down_not_only_its_own_duration():
    """Steady against a floor that jumps by 30% between rounds: its own durations agree to 0.1%,
    its ratio to the floor does not, so it is not settled after MIN_ROUNDS."""
    schedule = Schedule([FLOOR, STEADY], settings(max_repeat=6, budget=10_000), 1, "s")
    play(schedule, lambda name, number: 0.1 * (1.3 if number % 2 else 1.0) if name == "floor" else 0.5)
    report = schedule.report()["steady"]
    assert report["cv_pct"]["insert"] == 0 and report["repeats"] == 6 and report["stopped"] == "max repeats"


def test_several_thread_counts_interleave_in_every_round():
    """`--threads 1,4`: every round runs the threaded strategy and the floor at both counts and
    the others at the first; a unit's x floor is against the floor at its own thread count."""
    pool = Strategy("pool", Path("pool.py"), tags={"threaded": True})
    schedule = Schedule([FLOOR, STEADY, pool], settings(repeat=3, thread_counts=(1, 4)), 1, "s")
    assert {u.name: u.threads for u in schedule.strategies} == {
        "floor@1": 1, "floor@4": 4, "steady@1": 1, "pool@1": 1, "pool@4": 4}
    seconds = {("floor", 1): 0.1, ("floor", 4): 0.2, ("steady", 1): 0.5, ("pool", 1): 0.8, ("pool", 4): 0.5}
    rounds = []
    while (order := schedule.next_round()) is not None:
        rounds.append(sorted(u.name for u in order))
        for unit in order:
            for phase in ("insert", "update"):
                value = seconds[(unit.strategy.name, unit.threads)] * (1 + 0.01 * schedule.round)
                done = dataclasses.replace(row(unit.strategy.name, phase, value), threads=unit.threads)
                schedule.record(done)
        schedule.end_round()
    assert rounds == [sorted(seconds_key) for seconds_key in
                      [["floor@1", "floor@4", "steady@1", "pool@1", "pool@4"]] * 3]
    assert schedule._ranking("insert", 4)["pool@4"].floor_ratio == pytest.approx(2.5, rel=0.01)
    assert schedule._ranking("insert", 1)["pool@1"].floor_ratio == pytest.approx(8.0, rel=0.01)
    assert set(schedule.report()) == {"floor@1", "floor@4", "steady@1", "pool@1", "pool@4"}


def test_several_latencies_interleave_every_strategy_in_every_round():
    """`--latency direct,1`: every strategy (not only the threaded ones) at each latency in every
    round; a unit's x floor is against the floor at its own latency."""
    schedule = Schedule([FLOOR, STEADY], settings(repeat=3, latencies=(None, 1.0)), 1, "s")
    assert {u.name: u.config for u in schedule.strategies} == {
        "floor+direct": (4, None), "floor+1ms": (4, 1.0), "steady+direct": (4, None), "steady+1ms": (4, 1.0)}
    seconds = {("floor", None): 0.1, ("floor", 1.0): 0.3, ("steady", None): 0.5, ("steady", 1.0): 0.6}
    while (order := schedule.next_round()) is not None:
        assert len(order) == 4
        for unit in order:
            for phase in ("insert", "update"):
                value = seconds[(unit.strategy.name, unit.latency)] * (1 + 0.01 * schedule.round)
                schedule.record(dataclasses.replace(row(unit.strategy.name, phase, value), threads=4,
                                                    latency_ms=unit.latency or 0.0,
                                                    via_relay=unit.latency is not None))
        schedule.end_round()
    assert schedule._ranking("insert", 4)["steady+direct"].floor_ratio == pytest.approx(5.0, rel=0.01)
    assert schedule._ranking("insert", 4, 1.0)["steady+1ms"].floor_ratio == pytest.approx(2.0, rel=0.01)
    assert schedule.report()["steady+1ms"]["repeats"] == 3


def test_the_budget_counts_a_memory_process_only_in_rounds_that_run_one():
    """Round 1 runs the memray-tracked process too (--memory-repeats 1): later rounds cost its
    passes without it, and plan() and the budget must not charge it to them."""
    schedule = Schedule([FLOOR, STEADY], settings(measure_memory=True, memory_repeats=1, budget=10_000), 1, "s")
    assert schedule.next_round() is not None
    for name in ("floor", "steady"):
        for phase in ("insert", "update"):
            schedule.record(dataclasses.replace(row(name, phase, 0.5, pass_s=3.0), memory_wall_s=2.0))
    schedule.end_round()
    assert schedule.last_pass_s == {"floor": 2.0, "steady": 2.0}  # 2 passes x (3 s less the 2 s memory)
    two = Schedule([FLOOR, STEADY], settings(measure_memory=True, memory_repeats=2, budget=10_000), 1, "s")
    assert two.next_round() is not None
    two.record(dataclasses.replace(row("steady", "insert", 0.5, pass_s=3.0), memory_wall_s=2.0))
    two.end_round()
    assert two.last_pass_s["steady"] == 3.0  # round 2 measures memory too
