"""Value verification: checksums inside PostgreSQL catch one wrong character, NULL vs '' and more."""

import pytest

from experiments.database import schema
from experiments.database.verify import verify
from contract.workload import Keys
from experiments.workload import Workload

TOTAL = 120


def current(conn) -> str:
    return conn.execute("SELECT current_schema()").fetchone()[0]


@pytest.fixture
def loaded(conn):
    """Tables holding exactly the insert phase's rows (via the harness's own staging)."""
    schema.create_tables(conn, current(conn))
    schema.load_stage(conn, Workload("", TOTAL, "insert", schema=current(conn)))
    schema.load_start(conn, current(conn), Keys(TOTAL))  # leaves every key with its insert values
    return conn


def test_correct_rows_pass(loaded):
    check = verify(loaded, current(loaded), "insert", TOTAL)
    assert check.success and check.counts_ok and check.values_ok
    assert (check.users, check.addresses) == (TOTAL, TOTAL)
    assert check.problem == ""


def test_other_phase_fails(loaded):
    check = verify(loaded, current(loaded), "update", TOTAL)
    assert check.counts_ok and not check.values_ok


def test_one_wrong_character_is_found_and_named(loaded):
    loaded.execute("UPDATE users SET name = name || 'x' WHERE id = 17")
    check = verify(loaded, current(loaded), "insert", TOTAL)
    assert check.counts_ok and not check.values_ok
    assert "1 users rows differ, first id 17: name expected" in check.problem


@pytest.mark.parametrize("column, stored", [("bio", None), ("bio", ""), ("bio", "\\N"), ("city", "NULL")])
def test_null_empty_and_lookalikes_are_distinct(loaded, column, stored):
    table = "users" if column == "bio" else "addresses"
    row_id = loaded.execute(
        f"SELECT id FROM {table} WHERE {column} IS DISTINCT FROM %s ORDER BY id LIMIT 1", (stored,)
    ).fetchone()[0]
    loaded.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", (stored, row_id))
    check = verify(loaded, current(loaded), "insert", TOTAL)
    assert not check.values_ok and f"first id {row_id}" in check.problem


def test_missing_and_extra_rows(loaded):
    loaded.execute("DELETE FROM addresses WHERE id = 5")
    loaded.execute("INSERT INTO users VALUES (9999, 'extra', NULL, NULL, 1)")
    check = verify(loaded, current(loaded), "insert", TOTAL)
    assert not check.counts_ok and not check.success
    assert "1 addresses rows missing (first id 5)" in check.problem
    assert "1 unexpected users rows (first id 9999)" in check.problem


def test_column_types_match_the_tables(conn):
    """workload.COLUMN_TYPES (used by typed strategies) must describe schema.py's DDL."""
    from experiments.workload import COLUMN_TYPES, COLUMNS

    schema.create_tables(conn, current(conn))
    for table, columns in COLUMNS.items():
        found = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,)).fetchall()
        assert found == list(zip(columns, COLUMN_TYPES[table]))
