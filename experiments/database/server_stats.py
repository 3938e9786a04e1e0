"""What a pass cost the server: WAL written (and its full-page images), table size, dead tuples, HOT
updates, connections.

WAL bytes are the difference of `pg_current_wal_lsn()` around the pass (exact, but include any
background writes such as autovacuum, which `prepare_pass` makes unlikely). Tuple counters come
from the cumulative statistics system, which a backend flushes when it exits — after it has
already left `pg_stat_activity`. So after a pass we wait until no other backend of this run is
connected, then re-read `pg_stat_user_tables` (clearing our snapshot each time) until the
counters show at least the rows the pass must have written, or a short deadline passes.
`pg_stat_database.sessions` counts a connection when it opens, so its difference is the number
of connections the pass opened (on a shared server, other clients' connections count too).
`pg_stat_wal.wal_fpi` counts full-page images for the whole server, as each process reports its
statistics (a backend at the latest as it exits): the same kind of difference, other processes'
images included; their bytes are read from the WAL itself (`full_pages.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from experiments.database.schema import TABLES

_COUNTERS = """
SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0), coalesce(sum(n_dead_tup), 0),
       coalesce(sum(n_tup_hot_upd), 0)
FROM pg_stat_user_tables WHERE schemaname = %s AND relname = ANY(%s)
"""


@dataclass(frozen=True)
class Snapshot:
    lsn: str
    written: int  # inserted + updated tuples so far
    dead: int
    hot: int
    sessions: int  # connections ever opened to this database (counted when they open)
    fpi: int = 0  # full-page images written in the whole server (pg_stat_wal.wal_fpi), as reported so far


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


def snapshot(conn: psycopg.Connection, schema: str) -> Snapshot:
    # flush this session's own pending counters (the harness's restore) before reading
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    written, dead, hot = conn.execute(_COUNTERS, (schema, list(TABLES))).fetchone()
    sessions, fpi = conn.execute(
        "SELECT (SELECT sessions FROM pg_stat_database WHERE datname = current_database()), "
        "(SELECT wal_fpi FROM pg_stat_wal)").fetchone()
    return Snapshot(lsn, int(written), int(dead), int(hot), int(sessions), int(fpi))


def settle(conn: psycopg.Connection, schema: str, application: str, before: Snapshot,
           expected_writes: int, wait_s: float = 10.0) -> Snapshot:
    """The snapshot after a pass, once the pass's backends are gone and their counters flushed
    (a backend flushes them as it exits, which can take seconds on a loaded machine). Once the
    expected writes are counted, a backend still there after a second (a connection a stray
    process keeps) is not waited for: the next query that needs it gone ends it."""
    start = time.monotonic()
    while True:
        pending = other_backends(conn, application)
        after = snapshot(conn, schema)
        counted = after.written - before.written >= expected_writes
        waited = time.monotonic() - start
        if (counted and (not pending or waited > 1.0)) or (not pending and waited > 3.0) or waited > wait_s:
            return after
        time.sleep(0.01)


def wal_bytes(conn: psycopg.Connection, before: Snapshot, after: Snapshot) -> int:
    return int(conn.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)",
                            (after.lsn, before.lsn)).fetchone()[0])


def table_bytes(conn: psycopg.Connection, schema: str) -> int:
    """Heap, indexes and TOAST of both tables."""
    return int(conn.execute(
        "SELECT sum(pg_total_relation_size(format('%%I.%%I', %s::text, t)::regclass)) "
        "FROM unnest(%s::text[]) AS t", (schema, list(TABLES))
    ).fetchone()[0])


# -- statements, where the server can tell (pg_stat_statements) -------------------------------
_HARNESS_QUERIES = ("%pg_stat%", "%pg_current_wal%", "%pg_backend_pid%", "%current_schema()%")


def statement_counting(conn: psycopg.Connection, own_server: bool) -> tuple[str | None, str]:
    """(schema holding pg_stat_statements, "") when it can count a pass's statements, else
    (None, why not). It must be preloaded (`--pg-setting shared_preload_libraries=
    pg_stat_statements` on servers the run starts; the embedded wheel ships no contrib modules).
    On our own server the harness creates the extension. On a --dsn server it counts nothing:
    counting resets pg_stat_statements before every pass, which would clear the owner's
    server-wide statistics, and a user's server is theirs."""
    if not own_server:
        return None, ("not counted on a server that is not ours (counting resets pg_stat_statements, "
                      "the owner's server-wide statistics)")
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
    if "pg_stat_statements" not in preload:
        return None, ("pg_stat_statements is not preloaded (start servers with --pg-setting "
                      "shared_preload_libraries=pg_stat_statements; the embedded wheel ships no contrib modules)")
    try:
        row = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                           "WHERE e.extname = 'pg_stat_statements'").fetchone()
        if row is None:
            conn.execute("CREATE EXTENSION pg_stat_statements SCHEMA public")
            row = ("public",)
        reset_statements(conn, row[0])
    except psycopg.Error as error:
        return None, f"pg_stat_statements unusable: {str(error).strip().splitlines()[0]}"
    return row[0], ""


def reset_statements(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(f'SELECT "{schema}".pg_stat_statements_reset()')


def statements(conn: psycopg.Connection, schema: str) -> int:
    """Statements executed in this database since the reset, the harness's own left out."""
    return int(conn.execute(
        f'SELECT coalesce(sum(calls), 0) FROM "{schema}".pg_stat_statements '
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND NOT (query ILIKE ANY(%s))", (list(_HARNESS_QUERIES),)).fetchone()[0])
