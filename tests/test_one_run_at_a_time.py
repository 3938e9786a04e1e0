"""One benchmark at a time (experiments/run/lock.py) and the CPU other processes take during a
pass (foreign_cpu_s, experiments/passes/cpu.py), with real processes and real runs.

The lock tests use a lock file of their own (the suite's, or a test's `tmp_path`): never the
machine's, which a developer's own `make bench` may hold. Foreign load is asserted loosely: the
machine is shared and counted in 10 ms ticks.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.errors import UsageError
from contract.manifest import Manifest
from contract.row import under_foreign_load
from experiments.passes.cpu import ForeignMeter, machine_cpu_seconds, own_cpu_seconds
from experiments.run.lock import LOCK_FILE_ENV, one_run_at_a_time, read_holder

from conftest import FIXTURES, REPO_ROOT, read_results, run_cli, wait_for_rows

HOLDER = ("import sys, time\n"
          "from experiments.run.lock import one_run_at_a_time\n"
          "with one_run_at_a_time('holder-run'):\n"
          "    print('held', flush=True)\n"
          "    time.sleep(120)\n")


@pytest.fixture
def lock_file(tmp_path, monkeypatch):
    path = tmp_path / "bench.lock"
    monkeypatch.setenv(LOCK_FILE_ENV, str(path))
    return path


def hold_in_another_process(lock_file: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, **{LOCK_FILE_ENV: str(lock_file)}))
    assert holder.stdout.readline().strip() == "held"
    return holder


# -- the lock alone (no PostgreSQL) -------------------------------------------------------------
def test_a_held_lock_refuses_in_one_line_naming_the_holder(lock_file):
    holder = hold_in_another_process(lock_file)
    try:
        with pytest.raises(UsageError) as caught:
            with one_run_at_a_time("second-run"):
                pytest.fail("entered a lock another process holds")
        message = str(caught.value)
        assert len(message.splitlines()) == 1
        assert "run holder-run" in message and f"pid {holder.pid}" in message and "since 20" in message
        assert "--allow-concurrent" in message and str(lock_file) in message
        with one_run_at_a_time("third-run", allow_concurrent=True) as state:  # looks, takes nothing
            assert state["allowed"] and not state["held"]
            assert state["other_run"]["run_id"] == "holder-run" and state["other_run"]["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_leaves_no_stale_lock(lock_file):
    holder = hold_in_another_process(lock_file)
    holder.send_signal(signal.SIGKILL)  # none of its cleanup runs: the kernel drops the flock
    holder.wait()
    assert read_holder(lock_file)["pid"] == holder.pid  # the record stays, unheld
    with one_run_at_a_time("after-the-kill") as state:
        assert state["held"] and read_holder(lock_file)["run_id"] == "after-the-kill"
    with one_run_at_a_time("after-the-kill", allow_concurrent=True) as state:
        assert state["other_run"] is None  # nobody holds it any more


def test_the_lock_is_reentrant_within_a_process_and_world_writable(lock_file):
    with one_run_at_a_time("sweep-1"):
        with one_run_at_a_time("point-1") as inner:
            assert inner["held"]
            assert read_holder(lock_file)["run_id"] == "point-1"
        with one_run_at_a_time("point-2"):
            assert read_holder(lock_file)["run_id"] == "point-2"
        refused = subprocess.run([sys.executable, "-c", HOLDER], cwd=REPO_ROOT, capture_output=True,
                                 text=True, timeout=30, env=dict(os.environ, **{LOCK_FILE_ENV: str(lock_file)}))
        assert refused.returncode == 1 and "another benchmark run is in progress" in refused.stderr
        assert f"pid {os.getpid()}" in refused.stderr
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o666  # another account's run can record itself
    holder = hold_in_another_process(lock_file)  # released at the end of the outer block
    holder.kill()
    holder.wait()


def test_the_meter_sees_a_busy_loop_and_not_itself():
    quiet = ForeignMeter(lambda: 0.0, server_visible=True)
    quiet.start()
    child = subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\n"
                            "while time.process_time() - t < 0.5: pass"], timeout=30)
    assert child.returncode == 0
    quiet.stop()
    own = quiet.stop_at[1] - quiet.start_at[1]  # the child is ours (reaped), not foreign
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        loaded = ForeignMeter(lambda: 0.0, server_visible=True)
        loaded.start()
        time.sleep(1.0)
        loaded.stop()
    finally:
        busy.kill()
        busy.wait()
    foreign = loaded.columns()["foreign_cpu_s"]
    print(f"our own CPU {own:.3f} s around our 0.5 s child; foreign {foreign:.3f} s beside a busy loop (1 s)")
    assert own >= 0.45 and foreign > 0.3  # a loaded machine shares its cores with the loop
    assert ForeignMeter(lambda: None, server_visible=True).columns() == {}  # never read
    unseen = ForeignMeter(lambda: 1.0, server_visible=False)
    unseen.start()
    unseen.stop()
    assert "foreign_cpu_s" not in unseen.columns() and "steal_s" in unseen.columns()


# -- whole runs ---------------------------------------------------------------------------------
def start_run(results: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "experiments", "run", "--items", "40", "--repeat", "50",
                             "--no-memory", "--strategies-dir", str(FIXTURES), "--strategies", "sleepy",
                             "--results-dir", str(results), *args], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


@pytest.mark.slow
def test_a_second_run_is_refused_at_once_unless_allowed(pg_dsn, tmp_path):
    first = start_run(tmp_path / "first", "--dsn", pg_dsn)
    try:
        run_id = wait_for_rows(tmp_path / "first", 1, first).parent.name
        started = time.monotonic()
        refused = run_cli("run", "--dsn", pg_dsn, "--items", "40", "--repeat", "1", "--no-memory",
                          "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy",
                          "--results-dir", str(tmp_path / "second"), timeout=60)
        took = time.monotonic() - started
        assert refused.returncode == 2, refused.stdout + refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: another benchmark run is in progress")
        assert f"run {run_id} " in lines[0] and f"pid {first.pid}," in lines[0] and "--allow-concurrent" in lines[0]
        assert took < 15, f"refused after {took:.1f} s"
        assert not (tmp_path / "second").exists() or not any((tmp_path / "second").iterdir())
        print(f"refused in {took:.2f} s: {lines[0]}")

        beside = run_cli("run", "--dsn", pg_dsn, "--items", "40", "--repeat", "1", "--no-memory",
                         "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy", "--allow-concurrent",
                         "--results-dir", str(tmp_path / "third"), timeout=300)
        assert beside.returncode == 0, beside.stdout + beside.stderr
        assert f"running beside run {run_id} " in beside.stderr
        folder, rows = read_results(tmp_path / "third")
        concurrency = Manifest.load(folder).concurrency
        assert concurrency.allowed and not concurrency.held
        assert concurrency.other_run["run_id"] == run_id and concurrency.other_run["pid"] == first.pid
        assert Manifest.load(folder).config["ALLOW_CONCURRENT"] == "1"
        assert first.poll() is None  # the first run went on
    finally:
        stop(first)


@pytest.mark.slow
def test_a_killed_run_leaves_no_stale_lock(pg_dsn, tmp_path):
    first = start_run(tmp_path / "first", "--dsn", pg_dsn)
    try:
        wait_for_rows(tmp_path / "first", 1, first)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    after = run_cli("run", "--dsn", pg_dsn, "--items", "40", "--repeat", "1", "--no-memory",
                    "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy",
                    "--results-dir", str(tmp_path / "after"), timeout=300)
    assert after.returncode == 0, after.stdout + after.stderr
    concurrency = Manifest.load(read_results(tmp_path / "after")[0]).concurrency
    assert concurrency.held and not concurrency.allowed and concurrency.other_run is None


@pytest.mark.slow
def test_a_sweep_holds_the_lock_across_its_points(pg_dsn, tmp_path):
    results = tmp_path / "results"
    done = run_cli("sweep", "--dsn", pg_dsn, "--items", "30,40", "--repeat", "1", "--no-memory",
                   "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy", "--results-dir", str(results),
                   timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    folders = sorted(p for p in results.iterdir() if p.is_dir())
    assert len(folders) == 2
    for folder in folders:
        manifest = Manifest.load(folder)
        assert manifest.concurrency.held and manifest.sweep.id.startswith("sweep-")


def _foreign_run(tmp_path: Path, name: str) -> tuple[Path, list[dict], str]:
    results = tmp_path / name
    done = run_cli("run", "--items", "40", "--repeat", "1", "--no-memory", "--strategies-dir", str(FIXTURES),
                   "--strategies", "sleepy", "--results-dir", str(results), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    folder, rows = read_results(results)
    return folder, rows, done.stdout


@pytest.mark.db
@pytest.mark.slow
def test_a_busy_process_during_a_pass_is_foreign_load_and_a_quiet_pass_is_not(tmp_path):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        folder, rows, stdout = _foreign_run(tmp_path, "busy")
    finally:
        busy.kill()
        busy.wait()
    for row in rows:
        foreign, wall = float(row["foreign_cpu_s"]), float(row["wall_s"])
        print(f"busy loop: {row['phase']}: foreign {foreign:.3f} s over {wall:.3f} s, steal {row['steal_s']}")
        assert foreign > 0.3 * wall and under_foreign_load(foreign, wall), row
    assert "foreign load" in stdout and f"{len(rows)} of {len(rows)} passes" in stdout
    assert "ran under foreign load" in (folder / "run.log").read_text()
    assert Manifest.load(folder).concurrency.passes_under_foreign_load == len(rows)

    # without the loop: what other processes took during the whole run, seen from here (the
    # run's every process is reaped into our children's times when it ends), bounds the passes'
    machine, own, started = machine_cpu_seconds()[0], own_cpu_seconds(), time.monotonic()
    folder, rows, stdout = _foreign_run(tmp_path, "quiet")
    others = machine_cpu_seconds()[0] - machine - (own_cpu_seconds() - own)
    took = time.monotonic() - started
    foreign = [float(row["foreign_cpu_s"]) for row in rows]
    print(f"quiet: foreign {foreign} s over {[row['wall_s'] for row in rows]} s; other processes took "
          f"{others:.3f} s during the whole run ({took:.1f} s)")
    assert sum(foreign) <= others + 0.1 * len(rows)  # the passes see no more than the whole run did
    assert json.loads((folder / "manifest.json").read_text())["concurrency"]["foreign_load_rule"]
    if others > 0.1 * took:
        pytest.skip(f"the machine was not quiet (other processes took {others / took:.0%} of a core during "
                    "the run): a quiet pass cannot be checked")
    for row, value in zip(rows, foreign):
        assert abs(value) < max(0.25 * float(row["wall_s"]), 0.1), row
