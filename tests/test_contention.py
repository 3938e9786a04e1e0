"""Contention mode: a second writer on the same keys; torn rows and lost updates are caught."""

import pandas as pd
import pytest

from analysis.build import build

from contract.row import error_kind

from conftest import FIXTURES, read_results, run_cli


@pytest.fixture(scope="module")
def contended(pg_dsn, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--dsn", pg_dsn, "--items", "6000", "--repeat", "1", "--no-memory", "--contention",
                   "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy,lost_update",
                   "--results-dir", str(results))
    return done, {(r["strategy"], r["phase"]): r for r in read_results(results)[1]}, results


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_on_conflict_survives_contention_with_no_torn_rows(contended):
    _, rows, results = contended
    row = rows[("ok_copy", "update")]
    assert row["contention"] == "True" and row["success"] == "True", row["error"]
    assert row["torn_rows"] == "0"
    assert int(row["contender_rows"]) > 0  # the second writer really wrote
    log = next(results.glob("*/run.log")).read_text()
    assert '"foreign_key_violations": 0' in log.split("ok_copy-update-r1-dsn-contender: ")[1].splitlines()[0]
    assert rows[("ok_copy", "insert")]["contention"] == "False"  # only the update pass races


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_an_injected_lost_update_is_detected(contended):
    done, rows, _ = contended
    row = rows[("lost_update", "update")]
    assert row["success"] == "False"
    assert int(row["torn_rows"]) > 0
    assert "hold neither writer's values" in row["error"]
    assert row["error_kind"] == "wrong_values"
    assert done.returncode == 1


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_the_summary_has_a_contention_table(contended):
    done, rows, _ = contended
    table = done.stdout[done.stdout.index("Contention (update pass"):]
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
             for line in table.splitlines() if line.count("│") > 5}
    # columns: ok, strategy raised, torn rows, rows won by contender, contender retries, contender errors
    assert cells["ok_copy"][:3] == ["1/1", "-", "0"]
    lost = rows[("lost_update", "update")]
    assert cells["lost_update"][:3] == ["0/1", "wrong_values", f"{int(lost['torn_rows']):,}"]


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_figures_report_the_contention_outcome(contended, tmp_path):
    _, rows, results = contended
    build(results, tmp_path / "figures", echo=lambda line: None)
    outcomes = pd.read_csv(tmp_path / "figures" / "contention.csv").set_index("strategy")
    assert set(outcomes["variant"]) == {"contention"}
    assert outcomes.loc["ok_copy", "torn_rows"] == 0 and outcomes.loc["ok_copy", "n_ok"] == 1
    assert outcomes.loc["lost_update", "torn_rows"] == int(rows[("lost_update", "update")]["torn_rows"]) > 0
    assert outcomes.loc["lost_update", "raised"] == "wrong_values"
    report = (tmp_path / "figures" / "REPORT.md").read_text()
    assert "## Contention" in report and "| `lost_update` |" in report


@pytest.mark.parametrize("text, kind", [
    ("UniqueViolation: duplicate key value violates unique constraint", "unique_violation"),
    ("IntegrityError: (psycopg2.errors.UniqueViolation) duplicate key", "unique_violation"),
    ("DeadlockDetected: deadlock detected", "deadlock"),
    ("SerializationFailure: could not serialize access", "serialization_failure"),
    ("timeout", "timeout"), ("", ""), ("RuntimeError: boom", "other"),
])
def test_error_kinds(text, kind):
    assert error_kind(text) == kind
