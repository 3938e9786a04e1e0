"""What a pass cost the server: WAL written, table size, dead tuples, HOT updates, connections.

WAL bytes are the difference of `pg_current_wal_lsn()` around the pass (exact, but include any
background writes such as autovacuum, which `prepare_pass` makes unlikely). Tuple counters come
from the cumulative statistics system, which a backend flushes when it exits — after it has
already left `pg_stat_activity`. So after a pass we wait until no other backend of this run is
connected, then re-read `pg_stat_user_tables` (clearing our snapshot each time) until the
counters show at least the rows the pass must have written, or a short deadline passes.
`pg_stat_database.sessions` counts a connection when it opens, so its difference is the number
of connections the pass opened (on a shared server, other clients' connections count too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from experiments.schema import TABLES

_COUNTERS = """
SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0), coalesce(sum(n_dead_tup), 0),
       coalesce(sum(n_tup_hot_upd), 0)
FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(%s)
"""


@dataclass(frozen=True)
class Snapshot:
    lsn: str
    written: int  # inserted + updated tuples so far
    dead: int
    hot: int
    sessions: int  # connections ever opened to this database (counted when they open)


def other_backends(conn: psycopg.Connection, application: str) -> list[int]:
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' AND datname = current_database() "
        "AND (%s = '' OR application_name = %s)",
        (application, application),
    ).fetchall()
    return [pid for (pid,) in rows]


def end_stray_backends(conn: psycopg.Connection, application: str, wait_s: float = 10.0) -> int:
    """Terminate what a killed strategy left running in the server; wait until it is gone."""
    pids = other_backends(conn, application)
    for pid in pids:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + wait_s
    while other_backends(conn, application) and time.monotonic() < deadline:
        time.sleep(0.02)
    return len(pids)


def snapshot(conn: psycopg.Connection) -> Snapshot:
    # flush this session's own pending counters (the harness's restore) before reading
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    written, dead, hot = conn.execute(_COUNTERS, (list(TABLES),)).fetchone()
    sessions = conn.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]
    return Snapshot(lsn, int(written), int(dead), int(hot), int(sessions))


def settle(conn: psycopg.Connection, application: str, before: Snapshot, expected_writes: int,
           wait_s: float = 3.0) -> Snapshot:
    """The snapshot after a pass, once the pass's backends are gone and their stats flushed."""
    deadline = time.monotonic() + wait_s
    while other_backends(conn, application) and time.monotonic() < deadline:
        time.sleep(0.01)
    while True:
        after = snapshot(conn)
        if after.written - before.written >= expected_writes or time.monotonic() > deadline:
            return after
        time.sleep(0.02)


def wal_bytes(conn: psycopg.Connection, before: Snapshot, after: Snapshot) -> int:
    return int(conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)",
                            (after.lsn, before.lsn)).fetchone()[0])


def table_bytes(conn: psycopg.Connection) -> int:
    """Heap, indexes and TOAST of both tables."""
    return int(conn.execute(
        "SELECT sum(pg_total_relation_size(format('%%I.%%I', current_schema(), t)::regclass)) "
        "FROM unnest(%s::text[]) AS t", (list(TABLES),)
    ).fetchone()[0])
