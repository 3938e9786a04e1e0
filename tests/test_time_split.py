"""Where the time goes (issue 12): the CPU time of the strategy's process during main() and of
every server process during the pass, measured by the operating system, with real processes.
Orders of magnitude, not timings: a strategy that only sleeps uses almost no CPU anywhere, one
that burns Python CPU without the database is all client, and the server-only floor is mostly
server."""

import pytest

from conftest import REPO_ROOT, read_results, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.db]  # whole runs against a server
FOLDER = REPO_ROOT / "tests" / "strategies_cpu"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--items", "20000", "--repeat", "1", "--no-memory", "--strategies-dir", str(FOLDER),
                   "--results-dir", str(results), timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # sleeps_only and burns_cpu write nothing
    return {(r["strategy"], r["phase"]): r for r in read_results(results)[1]}


@pytest.mark.parametrize("phase", ["insert", "update"])
def test_sleeping_uses_no_cpu_on_either_side(rows, phase):
    row = rows[("sleeps_only", phase)]
    assert float(row["duration_s"]) >= 1.0
    assert float(row["client_cpu_s"]) < 0.1 and float(row["server_cpu_s"]) < 0.2, row


@pytest.mark.parametrize("phase", ["insert", "update"])
def test_burning_python_cpu_is_all_client(rows, phase):
    row = rows[("burns_cpu", phase)]
    client, server = float(row["client_cpu_s"]), float(row["server_cpu_s"])
    assert 0.9 <= client <= 2.0 and server < client / 5, row


@pytest.mark.parametrize("phase", ["insert", "update"])
def test_the_floor_is_mostly_server_work(rows, phase):
    row = rows[("floor", phase)]
    assert row["success"] == "True", row["error"]
    client, server = float(row["client_cpu_s"]), float(row["server_cpu_s"])
    assert server > 5 * client and server < 3 * float(row["duration_s"]) + 0.5, row


def test_the_harness_records_what_it_spent(rows):
    for row in rows.values():
        parts = sum(float(row[c]) for c in ("prepare_s", "verify_s", "settle_s"))
        assert float(row["pass_s"]) > float(row["wall_s"]) and parts < float(row["pass_s"]), row
        assert row["memory_wall_s"] == ""  # --no-memory: no memray process
