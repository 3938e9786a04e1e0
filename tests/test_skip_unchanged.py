"""The strategies that skip unchanged rows (issue 23), on a no-op upsert against the real server.

Each runs with the insert phase's rows over tables that already hold exactly those rows (the
update pass's starting state, vacuumed, after a CHECKPOINT): every key exists with its values.
The server's own counters must show no tuple inserted or updated, every value must still
verify, and the WAL of that run is compared with the blind strategy it is a variant of. Row
locks are read from the rows' xmax: `ON CONFLICT DO UPDATE ... WHERE` locks every conflicting
row before it tests the WHERE (the INSERT docs say so); the filtering variants lock none.
"""

from __future__ import annotations

import importlib
import os
import time

import psycopg
import pytest
from psycopg import sql

from contract.workload import Keys, Workload
from experiments.database import schema
from experiments.database.verify import verify
from experiments.urls import with_params

# The temporary staging tables' catalogue entries cost about 180 KB of WAL after a checkpoint
# (every catalogue page touched first writes a full-page image), whatever the rows: at 2,000
# items that is 8.6-9.5% of the blind strategies' WAL, too close to the 10% asserted below;
# at 5,000 it is about 4%.
ITEMS = 5_000
BLIND = {  # the skipping strategy -> the strategy it is a variant of
    "psycopg2_execute_values_skip_unchanged": "psycopg2_execute_values",
    "psycopg_copy_staging_skip_unchanged": "psycopg_copy_staging",
    "psycopg2_copy_merge_skip_unchanged": "psycopg2_copy_merge",
}
LOCKS_EVERY_ROW = {"psycopg2_execute_values_skip_unchanged"}  # ON CONFLICT DO UPDATE ... WHERE
APPLICATION = "skip_unchanged_test"

_COUNTERS = ("SELECT relname, n_tup_ins, n_tup_upd, seq_scan + coalesce(idx_scan, 0) "
             "FROM pg_stat_user_tables WHERE schemaname = %s AND relname IN ('users', 'addresses')")


def counters(conn: psycopg.Connection, name: str) -> dict[str, tuple[int, int, int]]:
    """table -> (inserted, updated, scans) as the server counts them, this session's own flushed."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {table: (ins, upd, scans) for table, ins, upd, scans in conn.execute(_COUNTERS, (name,))}


def settled(conn: psycopg.Connection, name: str, before: dict) -> dict:
    """The counters once the strategy's backend has gone and flushed them: it flushes as it exits,
    and its scans of both tables (every strategy reads them) show that the flush happened."""
    deadline = time.monotonic() + 15
    while True:
        gone = not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                                "AND pid <> pg_backend_pid()", (APPLICATION,)).fetchone()[0]
        after = counters(conn, name)
        if gone and all(after[t][2] > before[t][2] for t in before):
            return after
        assert time.monotonic() < deadline, f"counters never flushed: {before} -> {after}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def loaded(pg_dsn):
    """A schema of its own with the tables and the insert phase's rows staged (the harness's
    own staging, verified); dropped at the end. Yields (autocommit connection, schema)."""
    name = f"skip_{os.getpid()}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            with psycopg.connect(with_params(pg_dsn, name), autocommit=True) as conn:
                schema.create_tables(conn, name)
                schema.load_start(conn, name, Keys(ITEMS))
                yield conn, name
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def xmaxes(conn: psycopg.Connection, name: str) -> dict[str, dict[int, str]]:
    """table -> id -> the row's xmax: a row lock (or an update, a delete) sets it. The restore has
    set it already on every user (the addresses' foreign-key checks lock them FOR KEY SHARE), so
    a lock taken by the strategy shows as a change."""
    return {table: dict(conn.execute(sql.SQL("SELECT id, xmax::text FROM {}").format(
        sql.Identifier(name, table))).fetchall()) for table in ("users", "addresses")}


# cluster-wide (the checkpointer's own record may land in it): printed, never asserted
_WAL_STATS = "SELECT wal_records, wal_fpi FROM pg_stat_wal"
_RUNS: dict[str, dict] = {}


def noop_run(loaded, pg_dsn: str, strategy: str) -> dict:
    """`strategy`'s main() with the insert phase's rows over those very rows: WAL bytes after a
    CHECKPOINT, tuples inserted and updated per table, rows left locked, the verification."""
    if strategy in _RUNS:
        return _RUNS[strategy]
    conn, name = loaded
    schema.prepare_pass(conn, name, "unchanged", ITEMS)  # the insert phase's rows, vacuumed (hint bits set)
    before, xmax = counters(conn, name), xmaxes(conn, name)
    wal_stats = conn.execute(_WAL_STATS).fetchone()
    conn.execute("CHECKPOINT")
    start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    module = importlib.import_module(f"strategies.{strategy}")
    dsn = with_params(pg_dsn, application_name=APPLICATION)
    module.main(Workload(dsn, ITEMS, "insert", schema=name))
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (start,)).fetchone()[0]
    after = settled(conn, name, before)
    records, fpi = (a - b for a, b in zip(conn.execute(_WAL_STATS).fetchone(), wal_stats))
    now = xmaxes(conn, name)
    _RUNS[strategy] = {
        "wal": int(wal), "records": records, "fpi": fpi,
        "check": verify(conn, name, "insert", ITEMS),
        "locked": {t: sum(now[t][i] != xmax[t][i] for i in xmax[t]) for t in xmax},
        "inserted": {t: after[t][0] - before[t][0] for t in before},
        "updated": {t: after[t][1] - before[t][1] for t in before},
    }
    return _RUNS[strategy]


@pytest.mark.parametrize("strategy", list(BLIND))
def test_a_noop_upsert_writes_no_tuple_and_keeps_every_value(loaded, pg_dsn, strategy):
    """No tuple inserted or updated (pg_stat_user_tables), every value verified; the blind
    counterpart, on the same no-op, updates every row (the counters do count)."""
    run, blind = noop_run(loaded, pg_dsn, strategy), noop_run(loaded, pg_dsn, BLIND[strategy])
    assert run["check"].success, run["check"].problem
    assert blind["check"].success, blind["check"].problem
    assert run["inserted"] == run["updated"] == {"users": 0, "addresses": 0}, run
    assert blind["updated"] == {"users": ITEMS, "addresses": ITEMS}, blind
    print(f"\n{strategy}: no-op WAL {run['wal']:,} bytes, {BLIND[strategy]} {blind['wal']:,} bytes "
          f"({run['wal'] / blind['wal']:.1%}); records {run['records']:,} / {blind['records']:,}, "
          f"full-page images {run['fpi']:,} / {blind['fpi']:,}; rows locked {run['locked']}")


@pytest.mark.parametrize("strategy", list(BLIND))
def test_only_on_conflict_where_locks_the_unchanged_rows(loaded, pg_dsn, strategy):
    """`ON CONFLICT DO UPDATE ... WHERE` locks every conflicting row before it tests the WHERE (its
    xmax is set); filtering before the upsert, or MERGE's WHEN MATCHED AND, lock none."""
    run = noop_run(loaded, pg_dsn, strategy)
    expected = ITEMS if strategy in LOCKS_EVERY_ROW else 0
    assert run["locked"] == {"users": expected, "addresses": expected}, run["locked"]


@pytest.mark.parametrize("strategy", sorted(set(BLIND) - LOCKS_EVERY_ROW))
def test_filtering_strategies_write_under_a_tenth_of_the_blind_wal(loaded, pg_dsn, strategy):
    """Unlocked, unchanged rows cost no WAL: what is left is the temporary tables' catalogue
    entries and the commit. (Not asserted for ON CONFLICT ... WHERE: its row locks write a lock
    record per row and, after the checkpoint, an image of every page.)"""
    run, blind = noop_run(loaded, pg_dsn, strategy), noop_run(loaded, pg_dsn, BLIND[strategy])
    assert run["wal"] < blind["wal"] / 10, (run["wal"], blind["wal"])
