"""The benchmark's tables, and how the harness puts them into a pass's starting state.

`users` and `addresses` (an address references its user) are what strategies write. Beside
them the harness keeps UNLOGGED copies, loaded once per run with COPY and verified: per phase
its input (`bench_stage_<phase>_<table>`, what the server-only floor reads, duplicates too), the
rows every key holds before an update (`bench_start_<table>`) and, with `--table-rows`, the
other rows (`bench_other_<table>`). From those it restores the exact state a pass starts from,
server-side and untimed (`restore`: no pass key before an insert, the hits before a mixed pass,
the insert rows before an update or unchanged one). So every pass starts from the same
canonical state, whatever the strategy's previous pass did (or failed to do), and the
memory-tracked and the timed process of one pass start from identical tables.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from contract.workload import COLUMNS, PHASES, Keys, Workload, row, stage_table
from experiments.database.verify import check_stage, verify
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


def start_table(table: str) -> str:
    """The harness's unlogged copy of the rows every pass key holds before an update pass."""
    return f"bench_start_{table}"


def other_table(table: str) -> str:
    """The harness's unlogged copy of the other rows (`--table-rows`), which no pass touches."""
    return f"bench_other_{table}"


def _fill(conn: psycopg.Connection, schema: str, name: str, table: str, rows) -> None:
    """(Re)create the unlogged table `name` like `table` and COPY `rows` into it."""
    target = qualified(schema, name)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table])
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {})").format(target, qualified(schema, table)))
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy:
        for row in rows:
            copy.write_row(row)


def load_start(conn: psycopg.Connection, schema: str, keys: Keys) -> None:
    """The rows the passes start from, once per run: every pass key's insert values and the other
    rows; verified exactly like a strategy's output (restored, then checked)."""
    with conn.transaction():
        for table in TABLES:
            _fill(conn, schema, start_table(table), table,
                  (row(table, i, "insert", keys.items, keys.table_rows) for i in keys.pass_keys()))
            if keys.table_rows:
                _fill(conn, schema, other_table(table), table,
                      (row(table, i, "insert", keys.items, keys.table_rows) for i in keys.other_keys()))
    restore(conn, schema, keys, "update", rebuild=True)
    check = verify(conn, schema, "insert", keys)
    if not check.success:
        raise RuntimeError(f"the harness's own starting rows failed verification: {check.problem}")


def load_stage(conn: psycopg.Connection, work: Workload) -> None:
    """(Re)create and fill the unlogged stage tables for `work.phase` (its input, what the floor
    reads), then check them against the input: the same rows, duplicates too."""
    with conn.transaction():
        for table in TABLES:
            _fill(conn, work.schema, stage_table(work.phase, table), table, work.iter_rows(table))
    for table in TABLES:
        problem = check_stage(conn, work, table)
        if problem:
            raise RuntimeError(f"the harness's own {work.phase} staging failed verification: {problem}")


def _delete_pass_rows(conn: psycopg.Connection, schema: str, keys: Keys) -> None:
    with conn.transaction():
        for table in ("addresses", "users"):  # addresses first: they reference users
            conn.execute(sql.SQL("DELETE FROM {} WHERE {} OR id < 1 OR id > {}").format(
                qualified(schema, table), sql.SQL(keys.pass_key_sql()), sql.Literal(keys.span)))
    # the freed space is found again by the rows put back, so they land where the keys were
    conn.execute(sql.SQL("VACUUM {}, {}").format(qualified(schema, "users"), qualified(schema, "addresses")))


def restore(conn: psycopg.Connection, schema: str, keys: Keys | int, phase: str, *,
            rebuild: bool = False) -> None:
    """Put the tables in the state a `phase` pass starts from: no pass key before an insert pass,
    the hits (`Keys.hit`) before a mixed one, every key with its insert values before an update
    or unchanged pass; the other rows as they were. Without other rows: TRUNCATE and refill.
    With them: delete the pass's keys and put back the phase's (a cost of `items` rows, not of
    the table's); `rebuild` truncates and refills everything in id order (the first pass, and
    after a pass that left the tables wrong)."""
    keys = Keys.of(keys)
    users, addresses = qualified(schema, "users"), qualified(schema, "addresses")
    if keys.table_rows and rebuild:  # every key and every other row, in id order
        with conn.transaction():
            conn.execute(sql.SQL("TRUNCATE {}, {}").format(addresses, users))
            for table in TABLES:
                conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM (SELECT * FROM {} UNION ALL "
                                     "SELECT * FROM {}) AS s ORDER BY id").format(
                    qualified(schema, table), qualified(schema, start_table(table)),
                    qualified(schema, other_table(table))))
    if keys.table_rows:
        _delete_pass_rows(conn, schema, keys)
    with conn.transaction():
        if not keys.table_rows:
            conn.execute(sql.SQL("TRUNCATE {}, {}").format(addresses, users))
        if phase != "insert":
            which = sql.SQL(keys.hit_sql() if phase == "mixed" else "true")
            for table in TABLES:
                conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE {} ORDER BY id").format(
                    qualified(schema, table), qualified(schema, start_table(table)), which))


def prepare_pass(conn: psycopg.Connection, schema: str, phase: str, keys: Keys | int, *,
                 rebuild: bool = False) -> None:
    """Put the tables in the state a `phase` pass starts from, vacuumed and analysed, so no
    autovacuum or hint-bit work left over from the previous pass lands inside this one."""
    restore(conn, schema, keys, phase, rebuild=rebuild)
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}, {}").format(qualified(schema, "users"),
                                                          qualified(schema, "addresses")))


def drop_stage(conn: psycopg.Connection, schema: str) -> None:
    with conn.transaction():
        for table in TABLES:
            names = [*(stage_table(phase, table) for phase in PHASES), start_table(table), other_table(table)]
            for name in names:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(schema, name)))
