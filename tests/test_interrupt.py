"""Ctrl-C (SIGINT) or SIGTERM mid-run: finished rows stay on disk, no PostgreSQL is left behind."""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from experiments import REPO_ROOT

from conftest import FIXTURES, wait_for_rows

pytestmark = pytest.mark.db  # every test here starts a PostgreSQL server


def postgres_processes(data_dir: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if data_dir in cmdline and "postgres" in cmdline:
            found.append(proc)
    return found


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_rows_and_stops_server(tmp_path, sig):
    results = tmp_path / "results"
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", "run", "--items", "40", "--repeat", "50", "--no-memory",
         "--strategies-dir", str(FIXTURES), "--strategies", "sleepy", "--results-dir", str(results)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        folder = wait_for_rows(results, 2, runner).parent
        data_dir = json.loads((folder / "manifest.json").read_text())["servers"][0]["data_dir"]
        assert postgres_processes(data_dir), "the run's server should be up before the signal"
        runner.send_signal(sig)
        try:
            stdout, stderr = runner.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
            stdout, stderr = runner.communicate()
            pytest.fail(f"the run did not stop within 60 s of the signal:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, stderr
    assert "interrupted:" in stdout and "finished rows kept" in stdout
    assert "Traceback" not in stderr
    with open(folder / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 2
    assert all(r["success"] == "True" and r["started_at"] for r in rows)  # no half-written row
    assert postgres_processes(data_dir) == []
    assert not Path(data_dir).parent.exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["finished_at"] is not None and manifest["rows"] == len(rows)
