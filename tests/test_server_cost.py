"""What a pass costs the server: WAL, dead tuples / HOT updates, connections, statements."""

import pytest

from experiments.servers.local import local_versions

from conftest import FIXTURES, read_results, run_cli


@pytest.fixture(scope="module")
def two_sizes(pg_dsn, tmp_path_factory):
    rows = {}
    for items in (100, 2000):
        results = tmp_path_factory.mktemp(f"results{items}")
        done = run_cli("run", "--dsn", pg_dsn, "--items", str(items), "--repeat", "1", "--no-memory",
                       "--strategies-dir", str(FIXTURES), "--strategies", "ok_copy", "--results-dir", str(results))
        assert done.returncode == 0, done.stdout + done.stderr
        rows[items] = {r["phase"]: r for r in read_results(results)[1]}
    return rows


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_wal_bytes_are_positive_and_grow_with_items(two_sizes):
    for phase in ("insert", "update"):
        small, large = int(two_sizes[100][phase]["wal_bytes"]), int(two_sizes[2000][phase]["wal_bytes"])
        assert 0 < small < large
        assert large > 2 * small  # 20x the rows: clearly more WAL above a fixed overhead (TEMP
        # tables' catalog rows, TOAST, page images after the checkpoint)


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_updating_every_row_leaves_dead_tuples_or_hot_updates(two_sizes):
    update = two_sizes[2000]["update"]
    dead, hot = int(update["dead_tuples"]), int(update["hot_updates"])
    assert dead + hot >= 2 * 2000  # every users and addresses row was updated once
    insert = two_sizes[2000]["insert"]
    assert int(insert["dead_tuples"]) == 0  # inserting into empty tables leaves none


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_table_size_and_connections(two_sizes):
    assert int(two_sizes[2000]["insert"]["table_bytes"]) > int(two_sizes[100]["insert"]["table_bytes"])
    assert two_sizes[2000]["insert"]["connections"] == "1"
    assert two_sizes[2000]["insert"]["statements"] == ""  # embedded: no pg_stat_statements


@pytest.mark.db
@pytest.mark.skipif(not local_versions(), reason="needs local PostgreSQL binaries with contrib "
                                                 "(pg_stat_statements); the embedded wheel has none")
def test_statements_counted_where_pg_stat_statements_is_preloaded(tmp_path):
    major = list(local_versions())[-1]
    results = tmp_path / "results"
    done = run_cli("run", "--pg", f"local:{major}", "--items", "150", "--repeat", "1", "--no-memory",
                   "--strategies", "psycopg2_row_by_row,psycopg2_execute_values", "--results-dir", str(results),
                   "--pg-setting", "shared_preload_libraries=pg_stat_statements")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {(r["strategy"], r["phase"]): int(r["statements"]) for r in read_results(results)[1]}
    for phase in ("insert", "update"):
        assert rows[("psycopg2_row_by_row", phase)] >= 2 * 150  # one statement per row
        assert rows[("psycopg2_execute_values", phase)] <= 10  # one per page of 1,000 rows
