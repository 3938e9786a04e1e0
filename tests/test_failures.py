"""Broken strategies become failed rows with the right one-line reason; the run goes on."""

import pytest

from conftest import FIXTURES, read_results, run_cli

pytestmark = pytest.mark.slow  # whole runs; `make test-fast` leaves them out

ITEMS = 60


@pytest.fixture(scope="module")
def broken_run(pg_dsn, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--dsn", pg_dsn, "--items", str(ITEMS), "--threads", "2", "--repeat", "1",
                   "--strategies-dir", str(FIXTURES), "--results-dir", str(results),
                   "--timeout", "4", "--strategies", "ok_copy,raises,hangs,wrong_value,no_main,syntax_error,seed_style")
    folder, rows = read_results(results)
    return done, folder, {(r["strategy"], r["phase"]): r for r in rows}


def test_run_finishes_with_exit_status_1(broken_run):
    done, _, rows = broken_run
    assert done.returncode == 1, done.stderr
    assert len(rows) == 7 * 2
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("strategy, reason", [
    ("raises", "RuntimeError: boom on purpose"),
    ("hangs", "timeout"),
    ("wrong_value", "1 users rows differ, first id 7: name expected"),
    ("no_main", "strategy has no main() function"),
    ("syntax_error", "import failed: SyntaxError"),
])
@pytest.mark.parametrize("phase", ["insert", "update"])
def test_failure_is_recorded_with_its_reason(broken_run, strategy, reason, phase):
    _, _, rows = broken_run
    row = rows[(strategy, phase)]
    assert row["success"] == "False"
    assert reason in row["error"]
    assert "\n" not in row["error"]


def test_wrong_value_has_right_counts_but_wrong_values(broken_run):
    row = broken_run[2][("wrong_value", "insert")]
    assert (row["counts_ok"], row["values_ok"]) == ("True", "False")


@pytest.mark.parametrize("strategy", ["ok_copy", "seed_style"])
@pytest.mark.parametrize("phase", ["insert", "update"])
def test_good_strategies_still_pass_beside_broken_ones(broken_run, strategy, phase):
    """Among them the seed-style `def main(total: int)` module.
    Rule R10 in docs/adding-a-strategy.md."""
    row = broken_run[2][(strategy, phase)]
    assert row["success"] == "True", row["error"]


def test_failed_worker_output_reaches_run_log(broken_run):
    _, folder, _ = broken_run
    log = (folder / "run.log").read_text()
    assert "boom on purpose" in log and "--- last output ---" in log
