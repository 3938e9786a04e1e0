"""Scaling: exponents of known synthetic growth, and a real sweep where the streaming COPY
strategy's memory stays flat while the list-based one's grows."""

import json

import numpy as np
import pytest

from analysis.load import load_runs
from analysis.cost_model import cost_model
from analysis.scaling import growth, speedup
from contract.manifest import Manifest
from test_analysis import make_run

from conftest import run_cli


def test_exponents_of_known_growth(tmp_path):
    results = tmp_path / "r"
    for n, items in enumerate((1000, 10000, 100000)):
        make_run(results, f"2026010{n + 1}-000000-aaaa",
                 {("linear", "insert"): [items / 1000 * f for f in (0.98, 1.0, 1.02)],
                  ("square", "insert"): [(items / 1000) ** 2 * f for f in (0.98, 1.0, 1.02)]},
                 items=items, memory={"linear": 10.0, "square": 10.0})
    table = growth(load_runs(results).passes).set_index(["strategy", "metric"])
    assert table.loc[("linear", "duration"), "exponent"] == pytest.approx(1.0, abs=0.01)
    assert table.loc[("square", "duration"), "exponent"] == pytest.approx(2.0, abs=0.01)
    assert table.loc[("linear", "memory"), "exponent"] == pytest.approx(0.0, abs=0.01)
    low, high = table.loc[("linear", "duration"), ["ci_low", "ci_high"]]
    assert low < 1.0 < high


def test_the_cost_model_recovers_a_fixed_and_a_per_item_cost(tmp_path):
    """8 ms + 9 µs per item, 3% noise: fitted to 100,000 items, checked at 1,000,000, where a
    power law's exponent (0.68 from 1,000 to 10,000) says little."""
    rng = np.random.default_rng(3)
    results = tmp_path / "r"
    for n, items in enumerate((1000, 10000, 100000, 1000000)):
        seconds = [(0.008 + 9e-6 * items) * float(np.exp(rng.normal(0, 0.03))) for _ in range(5)]
        make_run(results, f"2026010{n + 1}-000000-aaaa", {("copy", "insert"): seconds}, items=items)
    passes = load_runs(results).passes
    table = cost_model(passes)
    row = table.iloc[0]
    assert row["sizes"] == "1000,10000,100000" and row["check_items"] == 1_000_000
    assert row["fixed_ms_low"] < 8.0 < row["fixed_ms_high"] and abs(row["fixed_ms"] - 8.0) < 1.0
    assert row["per_item_us_low"] < 9.0 < row["per_item_us_high"] and abs(row["per_item_us"] - 9.0) < 0.3
    assert row["check_ratio"] == pytest.approx(1.0, abs=0.05)
    assert cost_model(passes).equals(table)  # a fixed seed: the same runs, the same numbers


def test_speedup_from_threads(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("pool", "insert"): [4.0, 4.1, 3.9]}, threads=1)
    make_run(results, "20260102-000000-bbbb", {("pool", "insert"): [1.0, 1.05, 0.95]}, threads=4)
    table = speedup(load_runs(results).passes).set_index("threads")
    assert table.loc[1, "speedup"] == 1.0 and table.loc[4, "speedup"] == pytest.approx(4.0, rel=0.01)
    assert table.loc[4, "ci_low"] < table.loc[4, "speedup"] < table.loc[4, "ci_high"]
    assert 3.0 < table.loc[4, "ci_low"] and table.loc[4, "ci_high"] < 5.0  # the Welch t-interval, 3 per side
    assert np.isnan(table.loc[1, "ci_low"]) and np.isnan(table.loc[1, "ci_high"])  # no interval against itself
    assert not table["reference"].any()


def test_the_floor_in_a_speedup_is_marked_as_the_control(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("pool", "insert"): [4.0, 4.1, 3.9],
                                               ("floor", "insert"): [0.5, 0.52, 0.49]}, threads=1)
    make_run(results, "20260102-000000-bbbb", {("pool", "insert"): [1.0, 1.05, 0.95],
                                               ("floor", "insert"): [0.51, 0.5, 0.5]}, threads=4)
    passes = load_runs(results).passes
    table = speedup(passes)
    floor = table[table["reference"]]
    assert set(floor["strategy"]) == set(passes.loc[passes["reference"], "strategy"]) != set()
    assert (floor["threads"] == 4).any() and floor["speedup"].between(0.5, 2.0).all()


def test_interleaved_thread_counts_take_the_rounds_drift_out(tmp_path):
    """One run, thread counts 1 and 4 in every round, the machine's speed drifting 0.8x-1.3x from
    round to round: the blocked model's within-round contrast finds the pool's 4x with an interval
    a fraction of the Welch interval between the same passes taken as separate runs, and the floor
    (the control, run at both counts) at 1."""
    rng = np.random.default_rng(5)
    drift = [0.8, 1.3, 1.0, 0.9, 1.2, 1.1]
    def passes(seconds):
        return [seconds * d * float(np.exp(rng.normal(0, 0.02))) for d in drift]
    durations = {("pool", "insert", 1): passes(4.0), ("pool", "insert", 4): passes(1.0),
                 ("floor", "insert", 1): passes(0.5), ("floor", "insert", 4): passes(0.5),
                 ("copy", "insert", 1): passes(0.6)}
    make_run(tmp_path / "one", "20260101-000000-aaaa", durations)
    table = speedup(load_runs(tmp_path / "one").passes)
    assert set(table["design"]) == {"interleaved"} and table["interval"].str.contains("within-round").all()
    pool = table[table["strategy"] == "pool"].set_index("threads")
    assert pool.loc[4, "speedup"] == pytest.approx(4.0, rel=0.05)
    assert pool.loc[4, "ci_low"] < 4.0 < pool.loc[4, "ci_high"]
    floor = table[table["reference"]].set_index("threads")
    assert floor.loc[4, "ci_low"] < 1.0 < floor.loc[4, "ci_high"]
    assert "copy" not in set(table["strategy"])  # one thread count: no speed-up
    # the same passes as two runs, one per thread count: Welch between runs carries the drift
    make_run(tmp_path / "two", "20260101-000000-aaaa", {k[:2]: v for k, v in durations.items() if k[2] == 1}, threads=1)
    make_run(tmp_path / "two", "20260102-000000-bbbb", {k[:2]: v for k, v in durations.items() if k[2] == 4}, threads=4)
    apart = speedup(load_runs(tmp_path / "two").passes)
    assert set(apart["design"]) == {"separate runs"}
    welch = apart[apart["strategy"] == "pool"].set_index("threads")
    assert (pool.loc[4, "ci_high"] / pool.loc[4, "ci_low"]) ** 3 < welch.loc[4, "ci_high"] / welch.loc[4, "ci_low"]


@pytest.mark.slow
def test_real_sweep_streaming_memory_is_flat_and_lists_grow(tmp_path):
    """The `streaming` strategy really streams. Rule R18 in docs/adding-a-strategy.md."""
    results = tmp_path / "results"
    done = run_cli("sweep", "--items", "300,15000", "--threads", "1,2", "--repeat", "2",
                   "--strategies", "server_only_floor,psycopg_copy_streaming,psycopg_copy_staging,psycopg2_threaded_pool",
                   "--results-dir", str(results), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    runs = sorted(p.name for p in results.iterdir())
    assert len(runs) == 2  # one run per item count: its rounds interleave the thread counts
    passes = load_runs(results).passes
    # at 2 threads only the threaded strategy and the floor (the control) run
    assert set(passes.loc[passes["threads"] == 2, "strategy"]) == {"psycopg2_threaded_pool", "server_only_floor"}
    manifest = Manifest.from_dict(json.loads((results / runs[0] / "manifest.json").read_text()))
    assert manifest.thread_counts == (1, 2) and manifest.threads == 1
    assert {"psycopg2_threaded_pool@1", "psycopg2_threaded_pool@2", "server_only_floor@2"} <= set(
        next(iter(manifest.repeats.values())))
    fits = growth(passes)
    memory = fits[(fits["metric"] == "memory") & (fits["threads"] == 1)].groupby("strategy")["exponent"].mean()
    assert memory["psycopg_copy_staging"] > memory["psycopg_copy_streaming"] + 0.1
    assert abs(memory["psycopg_copy_streaming"]) < 0.1
    duration = fits[(fits["metric"] == "duration") & (fits["threads"] == 1)]
    assert (duration["exponent"] > 0.3).all()  # 100x the rows takes clearly longer
    threaded = speedup(passes)
    assert set(threaded.loc[~threaded["reference"], "strategy"]) == {"psycopg2_threaded_pool"}
    assert set(threaded["threads"]) == {1, 2} and set(threaded["design"]) == {"interleaved"}
    assert np.isfinite(threaded["speedup"]).all()
