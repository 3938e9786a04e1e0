"""A CPU split that adds up: the server's CPU is read when the worker marks the start and the end
of main() (experiments.process._MarkPipes), split into the pass's backends (`server_cpu_s`) and
the server's background processes (`background_cpu_s`), and a backend the postmaster reaps while
the server's processes are read is counted once (Cluster.cpu_reading).

The marks need no server (a strategy without a database); the split runs real strategies
against a real embedded PostgreSQL. CPU is counted in 10 ms ticks: bounds are loose.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from experiments.process import child_env, run_worker
from experiments.servers.cluster import Cluster
from experiments.servers.cpu import is_background
from experiments.servers.embedded import embedded_versions, newest_embedded

from conftest import REPO_ROOT, read_results, run_cli

FOLDER = REPO_ROOT / "tests" / "strategies_cpu_split"


# -- the marks (no PostgreSQL) ------------------------------------------------------------------
def worker(tmp_path: Path, body: str, timeout_s: float = 60, pause_s: float = 0.0):
    """Run the worker on a strategy whose main() is `body`; (outcome, marks seen, seconds taken)."""
    strategy = tmp_path / "strategy.py"
    strategy.write_text("import os, time\nTAGS = {'library': 'postgresql', 'api': 'server', "
                        "'technique': 'none', 'threaded': False}\n\ndef main(work):\n    " + body + "\n")
    marks: list[str] = []

    def on_mark(what: str) -> None:
        marks.append(what)
        time.sleep(pause_s)  # reading the server's CPU takes a moment: never inside the clock

    argv = [sys.executable, "-m", "experiments.passes.worker", "--strategy-file", str(strategy), "--phase",
            "insert", "--items", "10", "--threads", "1", "--result", str(tmp_path / "result.json")]
    started = time.monotonic()
    outcome = run_worker(argv, child_env(""), timeout_s, tmp_path / "result.json", tmp_path / "out.txt",
                         REPO_ROOT, on_mark)
    return outcome, marks, time.monotonic() - started


def test_the_marks_frame_main_and_stay_outside_its_clock(tmp_path):
    outcome, marks, _ = worker(tmp_path, "time.sleep(0.3)", pause_s=0.25)
    assert outcome.error == "" and marks == ["start", "end"]
    assert 0.29 <= outcome.result["duration_s"] < 0.45, outcome.result  # the two 0.25 s answers are not in it
    assert outcome.wall_s > 0.8


def test_a_worker_that_dies_inside_main_does_not_hang_the_harness(tmp_path):
    outcome, marks, took = worker(tmp_path, "os._exit(3)")
    assert marks == ["start"] and outcome.returncode == 3 and took < 15


def test_a_worker_that_hangs_is_killed_at_its_timeout(tmp_path):
    outcome, marks, took = worker(tmp_path, "time.sleep(120)", timeout_s=3)
    assert marks == ["start"] and outcome.timed_out and took < 15


def test_a_forked_child_holding_the_pipes_does_not_hang_the_harness(tmp_path):
    # os.fork() copies every descriptor, close-on-exec or not: EOF never comes while the child lives
    outcome, marks, took = worker(tmp_path, "if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)")
    assert outcome.error == "" and marks == ["start", "end"] and took < 15


def test_background_processes_are_told_apart_by_their_titles():
    for title in ("postgres: checkpointer ", "postgres: background writer", "postgres: walwriter",
                  "postgres: autovacuum launcher", "postgres: autovacuum worker mydb",
                  "postgres: logical replication launcher", "postgres: io worker 2", "postgres: walsummarizer",
                  "postgres: main: checkpointer"):
        assert is_background(title), title
    for title in ("postgres: postgres postgres [local] idle", "postgres: bench bench 127.0.0.1(5432) INSERT",
                  "postgres: parallel worker for PID 1234", "postgres"):
        assert not is_background(title), title


# -- the split, on a real server ----------------------------------------------------------------
@pytest.mark.db
def test_a_backend_reaped_while_the_server_is_read_is_counted_once():
    """Total server CPU can only grow: a child counted live and again in the postmaster's
    children times (or in neither: an exited child not yet reaped has no title, but still its
    times) would show as a step up and back (or down) by a backend's ~0.2 s."""
    with Cluster(embedded_versions()[newest_embedded()], "cpu reading") as cluster:
        stop = threading.Event()

        def churn() -> None:  # backends start, work ~0.2 s, exit (zombies a moment) and are reaped
            while not stop.is_set():
                with psycopg.connect(cluster.dsn) as conn:
                    conn.execute("SELECT count(*) FROM generate_series(1, 1500000)").fetchone()

        churner = threading.Thread(target=churn)
        churner.start()
        try:
            totals = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                totals.append(cluster.cpu_reading().total)
        finally:
            stop.set()
            churner.join()
    drops = [(a, b) for a, b in zip(totals, totals[1:]) if b < a - 1e-9]
    print(f"{len(totals)} readings, total {totals[0]:.2f} -> {totals[-1]:.2f} s, drops: {drops[:5]}")
    assert len(totals) > 50 and totals[-1] > totals[0] and drops == []


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--items", "10", "--repeat", "3", "--no-memory", "--strategies-dir", str(FOLDER),
                   "--results-dir", str(results), timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # none of them writes the rows
    folder, found = read_results(results)
    assert '"cpu_split": "main-only"' in (folder / "manifest.json").read_text()
    by: dict[str, list[dict]] = {}
    for row in found:
        by.setdefault(row["strategy"], []).append({k: _number(v) for k, v in row.items()})
    return by


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


@pytest.mark.db
@pytest.mark.slow
def test_a_strategy_that_sleeps_connected_costs_no_cpu_anywhere(rows):
    for row in rows["sleeps_connected"]:
        assert row["duration_s"] >= 1.0
        assert row["client_cpu_s"] < 0.1 and row["server_cpu_s"] < 0.05, row
        assert row["background_cpu_s"] >= 0, row
    # the server's background processes keep their own schedule (a WAL writer or autovacuum round
    # can land in one sleeping pass: 0.17 s once in CI), so their CPU is asserted in the median
    assert statistics.median(r["background_cpu_s"] for r in rows["sleeps_connected"]) < 0.05


@pytest.mark.db
@pytest.mark.slow
def test_a_server_heavy_statement_is_server_cpu_and_the_split_adds_up(rows):
    for row in rows["server_heavy"]:
        client, server, background = row["client_cpu_s"], row["server_cpu_s"], row["background_cpu_s"]
        print(f"server_heavy {row['phase']}: duration {row['duration_s']:.3f} s = client {client:.3f} + "
              f"server {server:.3f} + background {background:.3f} + the rest")
        assert server > 0.6 * row["duration_s"], row
        # one connection: its process and its backend take turns, so their CPU fits the duration;
        # the background processes may run meanwhile on another core (a WAL writer round: 0.12 s in CI)
        assert client + server <= row["duration_s"] * 1.1 + 0.02, row
        assert background >= 0, row


@pytest.mark.db
@pytest.mark.slow
def test_a_forced_checkpoint_is_background_cpu_not_the_backends(rows):
    def median(strategy, column):
        return statistics.median(r[column] for r in rows[strategy])

    plain, forced = median("dirties", "background_cpu_s"), median("dirties_then_checkpoints", "background_cpu_s")
    server_plain, server_forced = median("dirties", "server_cpu_s"), median("dirties_then_checkpoints", "server_cpu_s")
    print(f"background: {plain:.3f} s without, {forced:.3f} s with CHECKPOINT; "
          f"server: {server_plain:.3f} s without, {server_forced:.3f} s with")
    assert forced > plain + 0.005
    assert server_forced < server_plain * 1.3 + 0.05
