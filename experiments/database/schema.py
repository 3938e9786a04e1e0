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

from contract.workload import COLUMNS, Workload, stage_table
from experiments.database.verify import verify
from experiments.servers.sessions import require_schema

DDL = """
CREATE TABLE IF NOT EXISTS {users} (
    id      integer PRIMARY KEY,
    name    text    NOT NULL,
    email   text,
    bio     text,
    karma   integer NOT NULL
);
CREATE TABLE IF NOT EXISTS {addresses} (
    id       integer PRIMARY KEY,
    user_id  integer NOT NULL REFERENCES {users} (id),
    street   text    NOT NULL,
    city     text,
    postcode text
);
CREATE INDEX IF NOT EXISTS addresses_user_id_idx ON {addresses} (user_id);
"""

TABLES = tuple(COLUMNS)  # users first: addresses reference users


# The harness's connection is in autocommit mode (VACUUM and CHECKPOINT need it); functions
# that need several statements to be atomic open a transaction themselves. Every statement
# names its tables with the run's schema (`qualified`): the session's search_path is never
# trusted to point there (a pooler may have dropped the option that sets it).


def qualified(schema: str, table: str) -> sql.Identifier:
    """`"schema"."table"`, for composing harness statements."""
    return sql.Identifier(schema, table)


def create_tables(conn: psycopg.Connection, schema: str) -> None:
    """The two tables in `schema`; in the same transaction, the check that the session is there
    (strategies' sessions rely on the same search_path)."""
    with conn.transaction():
        require_schema(conn, schema)
        conn.execute(sql.SQL(DDL).format(**{t: qualified(schema, t) for t in TABLES}))


def load_stage(conn: psycopg.Connection, work: Workload) -> None:
    """(Re)create and fill the unlogged stage tables for `work.phase`, then verify them."""
    with conn.transaction():
        for table in TABLES:
            name = qualified(work.schema, stage_table(work.phase, table))
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table])
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
            conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(
                name, qualified(work.schema, table)))
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(name, cols)) as copy:
                for row in work.iter_rows(table):
                    copy.write_row(row)
    # The copies are verified exactly like a strategy's output: restore them and check.
    restore(conn, work.schema, work.phase)
    check = verify(conn, work.schema, work.phase, work.items)
    if not check.success:
        raise RuntimeError(f"the harness's own {work.phase} staging failed verification: {check.problem}")


def restore(conn: psycopg.Connection, schema: str, phase: str | None) -> None:
    """Empty the tables and, unless `phase` is None, fill them with its staged rows in id order."""
    with conn.transaction():
        conn.execute(sql.SQL("TRUNCATE {}, {}").format(qualified(schema, "addresses"),
                                                      qualified(schema, "users")))
        if phase is not None:
            for table in TABLES:
                conn.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM {} ORDER BY id").format(
                        qualified(schema, table), qualified(schema, stage_table(phase, table))
                    )
                )


def prepare_pass(conn: psycopg.Connection, schema: str, phase: str) -> None:
    """Put the tables in the state a `phase` pass starts from, vacuumed and analysed, so no
    autovacuum or hint-bit work left over from the previous pass lands inside this one."""
    restore(conn, schema, None if phase == "insert" else "insert")
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}, {}").format(qualified(schema, "users"),
                                                          qualified(schema, "addresses")))


def drop_stage(conn: psycopg.Connection, schema: str) -> None:
    with conn.transaction():
        for phase in ("insert", "update"):
            for table in TABLES:
                name = qualified(schema, stage_table(phase, table))
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
