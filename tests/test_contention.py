"""Contention mode: a second writer on the same keys; torn rows and lost updates are caught."""

import pytest

from experiments.contention import error_kind

from conftest import FIXTURES, read_results, run_cli


@pytest.fixture(scope="module")
def contended(pg_dsn, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--dsn", pg_dsn, "--items", "6000", "--repeat", "1", "--no-memory", "--contention",
                   "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy,lost_update",
                   "--results-dir", str(results))
    return done, {(r["strategy"], r["phase"]): r for r in read_results(results)[1]}


def test_on_conflict_survives_contention_with_no_torn_rows(contended):
    _, rows = contended
    row = rows[("ok_copy", "update")]
    assert row["contention"] == "True" and row["success"] == "True", row["error"]
    assert row["torn_rows"] == "0"
    assert int(row["contender_rows"]) > 0  # the second writer really wrote
    assert rows[("ok_copy", "insert")]["contention"] == "False"  # only the update pass races


def test_an_injected_lost_update_is_detected(contended):
    done, rows = contended
    row = rows[("lost_update", "update")]
    assert row["success"] == "False"
    assert int(row["torn_rows"]) > 0
    assert "hold neither writer's values" in row["error"]
    assert row["error_kind"] == "wrong_values"
    assert done.returncode == 1


@pytest.mark.parametrize("text, kind", [
    ("UniqueViolation: duplicate key value violates unique constraint", "unique_violation"),
    ("IntegrityError: (psycopg2.errors.UniqueViolation) duplicate key", "unique_violation"),
    ("DeadlockDetected: deadlock detected", "deadlock"),
    ("SerializationFailure: could not serialize access", "serialization_failure"),
    ("timeout", "timeout"), ("", ""), ("RuntimeError: boom", "other"),
])
def test_error_kinds(text, kind):
    assert error_kind(text) == kind
