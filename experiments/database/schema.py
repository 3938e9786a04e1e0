"""The benchmark's tables, and how the harness puts them into a pass's starting state.

`users` and `addresses` (an address references its user) are what strategies write. Beside
them the harness keeps, per phase, an UNLOGGED copy of the phase's rows (`bench_stage_<phase>_
<table>`), loaded once per run with COPY and verified. From those it restores the exact state a
pass starts from, server-side and untimed: empty tables before an insert pass, the insert
phase's rows before an update pass. So every update pass starts from the same canonical state,
whatever the strategy's own insert pass did (or failed to do), and the memory-tracked and the
timed process of one pass start from identical tables.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from experiments.database.verify import verify
from experiments.workload import COLUMNS, Workload, stage_table

DDL = """
CREATE TABLE IF NOT EXISTS users (
    id      integer PRIMARY KEY,
    name    text    NOT NULL,
    email   text,
    bio     text,
    karma   integer NOT NULL
);
CREATE TABLE IF NOT EXISTS addresses (
    id       integer PRIMARY KEY,
    user_id  integer NOT NULL REFERENCES users (id),
    street   text    NOT NULL,
    city     text,
    postcode text
);
CREATE INDEX IF NOT EXISTS addresses_user_id_idx ON addresses (user_id);
"""

TABLES = tuple(COLUMNS)  # users first: addresses reference users


# The harness's connection is in autocommit mode (VACUUM and CHECKPOINT need it); functions
# that need several statements to be atomic open a transaction themselves.


def create_tables(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(DDL)


def load_stage(conn: psycopg.Connection, work: Workload) -> None:
    """(Re)create and fill the unlogged stage tables for `work.phase`, then verify them."""
    with conn.transaction():
        for table in TABLES:
            name = sql.Identifier(stage_table(work.phase, table))
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table])
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
            conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(name, sql.Identifier(table)))
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, cols)) as copy:
                for row in work.iter_rows(table):
                    copy.write_row(row)
    # The copies are verified exactly like a strategy's output: restore them and check.
    restore(conn, work.phase)
    check = verify(conn, work.phase, work.total)
    if not check.success:
        raise RuntimeError(f"the harness's own {work.phase} staging failed verification: {check.problem}")


def restore(conn: psycopg.Connection, phase: str | None) -> None:
    """Empty the tables and, unless `phase` is None, fill them with its staged rows in id order."""
    with conn.transaction():
        conn.execute("TRUNCATE addresses, users")
        if phase is not None:
            for table in TABLES:
                conn.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY id").format(
                        sql.Identifier(table), sql.Identifier(stage_table(phase, table))
                    )
                )


def prepare_pass(conn: psycopg.Connection, phase: str) -> None:
    """Put the tables in the state a `phase` pass starts from, vacuumed and analysed, so no
    autovacuum or hint-bit work left over from the previous pass lands inside this one."""
    restore(conn, None if phase == "insert" else "insert")
    conn.execute("VACUUM (ANALYZE) users, addresses")


def drop_stage(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for phase in ("insert", "update"):
            for table in TABLES:
                name = sql.Identifier(stage_table(phase, table))
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
