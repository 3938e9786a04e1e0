"""Faults injected for real (issue 10): each test breaks something and checks what the run kept.

- the PostgreSQL server SIGKILLed mid-pass: that pass is a failed row naming the cause, the run
  stops with exit status 1 (by design: see DESIGN.md), finished rows stay, no server is left;
- the harness SIGKILLed: the kernel stops its server and its worker (PR_SET_PDEATHSIG) within a
  bounded time, which the test measures;
- the results folder's disk full: one line, exit status 1, every finished row intact;
- a strategy opening more connections than max_connections: a failed row naming the cause, and
  the next pass runs normally;
- a strategy whose detached child keeps a connection and a lock after main() returns: the next
  passes still start from the canonical state and verify.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from experiments import REPO_ROOT

from conftest import FIXTURES, read_results, run_cli, wait_for_rows

pytestmark = [pytest.mark.slow, pytest.mark.db]  # whole runs against a server; `make test-fast` leaves them out


def postgres_processes(data_dir: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with_args = " ".join(proc.info["cmdline"] or [])
        if data_dir in with_args and "postgres" in with_args:
            found.append(proc)
    return found


def read_rows(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_server_killed_mid_pass_fails_that_pass_and_stops_the_run(tmp_path):
    results = tmp_path / "results"
    done = run_cli("run", "--items", "50", "--repeat", "2", "--no-memory", "--seed", "1",
                   "--strategies-dir", str(FIXTURES), "--strategies", "kills_server,ok_copy",
                   "--results-dir", str(results), timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    line = one_line(done.stderr)
    assert line.startswith("error: the server went away during kills_server update r1: ")
    assert "killed by SIGKILL" in line and "finished rows kept in" in line
    folder, rows = read_results(results)
    lost = rows[-1]
    assert (lost["strategy"], lost["phase"], lost["success"]) == ("kills_server", "update", "False")
    assert lost["error"].startswith("server lost: ") and "killed by SIGKILL" in lost["error"]
    assert lost["error_kind"] == "server_lost" and "\n" not in lost["error"]
    assert all(r["success"] == "True" for r in rows[:-1]) and rows[0]["strategy"] in ("ok_copy", "kills_server")
    assert f"{len(rows)} finished rows kept" in line
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["finished_at"] and manifest["rows"] == len(rows)
    data_dir = manifest["servers"][0]["data_dir"]
    assert postgres_processes(data_dir) == [] and not Path(data_dir).exists()


def test_harness_killed_leaves_no_server_or_worker_behind(tmp_path):
    results = tmp_path / "results"
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", "run", "--items", "40", "--repeat", "50",
         "--strategies-dir", str(FIXTURES), "--strategies", "sleepy", "--results-dir", str(results)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        csvs = [wait_for_rows(results, 1, runner)]
        folder = csvs[0].parent
        data_dir = json.loads((folder / "manifest.json").read_text())["servers"][0]["data_dir"]
        time.sleep(0.2)  # likely inside the next pass: a worker (memray or timed) is running
        workers = [p for p in psutil.Process(runner.pid).children(recursive=True)
                   if "experiments.passes.worker" in " ".join(p.cmdline())]
        assert postgres_processes(data_dir)
        runner.kill()  # SIGKILL: none of the harness's cleanup code runs
        runner.wait()
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 30:
            if not postgres_processes(data_dir) and not any(w.is_running() and w.status() != "zombie"
                                                            for w in workers):
                break
            time.sleep(0.05)
        gone_after = time.monotonic() - killed_at
        print(f"server and worker gone {gone_after:.2f} s after the harness was SIGKILLed")
        assert postgres_processes(data_dir) == [], "the server outlived its harness by 30 s"
        assert gone_after < 15
        assert read_rows(csvs[0]), "finished rows are on disk"
    finally:
        if runner.poll() is None:
            runner.kill()
        from experiments import clean

        clean.clean(tmp_path / "nothing", dry_run=False, echo=lambda _: None)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs of our own (root only: mounting needs CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount, which needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def test_results_disk_full_is_one_line_and_keeps_every_finished_row(tiny_disk):
    results = tiny_disk / "results"
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", "run", "--items", "40", "--repeat", "50", "--no-memory",
         "--strategies-dir", str(FIXTURES), "--strategies", "sleepy", "--results-dir", str(results)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        csvs = [wait_for_rows(results, 2, runner)]
        fill(tiny_disk)
        stdout, stderr = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 1, stderr
    line = one_line(stderr)
    assert line.startswith("error: cannot write ") and "No space left on device" in line
    kept = int(line.split("; ")[-1].split()[0])
    rows = read_rows(csvs[0])
    assert len(rows) == kept >= 2
    assert all(r["success"] == "True" and r["started_at"] and r["error_kind"] == "" for r in rows)
    assert csvs[0].read_bytes().endswith(b"\n")  # no half-written row
    print(f"disk full after {kept} rows: {line}")


def test_more_connections_than_max_connections_is_a_failed_row_naming_the_cause(tmp_path):
    results = tmp_path / "results"
    done = run_cli("run", "--items", "30", "--repeat", "1", "--no-memory", "--pg-setting", "max_connections=15",
                   "--strategies-dir", str(FIXTURES), "--strategies", "too_many_connections,ok_copy",
                   "--results-dir", str(results), timeout=300)
    assert done.returncode == 1, done.stderr
    _, rows = read_results(results)
    by = {(r["strategy"], r["phase"]): r for r in rows}
    for phase in ("insert", "update"):
        row = by[("too_many_connections", phase)]
        assert row["success"] == "False" and "too many clients" in row["error"], row["error"]
        assert row["error_kind"] == "too_many_connections"
        assert by[("ok_copy", phase)]["success"] == "True", by[("ok_copy", phase)]["error"]


def test_a_leaked_connection_holding_a_lock_does_not_reach_the_next_pass(pg_dsn, tmp_path):
    results = tmp_path / "results"
    pid_file = tmp_path / "leaked"
    done = run_cli("run", "--dsn", pg_dsn, "--items", "30", "--repeat", "2", "--seed", "3",
                   "--strategies-dir", str(FIXTURES), "--strategies", "leaves_a_lock,ok_copy",
                   "--results-dir", str(results), env={"LEAKED_PID_FILE": str(pid_file)}, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    folder, rows = read_results(results)
    assert len(rows) == 8 and all(r["success"] == "True" for r in rows), [r["error"] for r in rows]
    # every leaked child had its lock ended by the harness: each one exits once its backend is gone
    leaked = [int(p.read_text()) for p in tmp_path.glob("leaked.*")]
    assert leaked
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in leaked):
        assert time.monotonic() < deadline, "a leaked child still holds its connection"
        time.sleep(0.1)
    assert "terminated" in (folder / "run.log").read_text()
