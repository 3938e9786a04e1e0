"""SQLAlchemy Core: `text()` SQL `MERGE` from `unnest()`ed arrays, 1,000 rows a statement.

PostgreSQL 15+ has the SQL-standard `MERGE`. SQLAlchemy 2.1 has no MERGE construct (neither Core
nor the PostgreSQL dialect exports one and its changelog adds none; it was requested in
sqlalchemy/sqlalchemy#10601), so the statement is `text()`:
`MERGE INTO <schema>.users AS t USING (SELECT * FROM unnest(CAST(:id AS INTEGER[]),
CAST(:name AS TEXT[]), ...) AS u(id, name, ...)) AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET
... WHEN NOT MATCHED THEN INSERT ...`. Each chunk of 1,000 rows is sent as one array per column,
so a statement has five parameters whatever the chunk size, and `unnest()` with several
arguments zips the arrays back into rows inside the server.

Typing trap, worked around: every array is cast explicitly (`CAST(:name AS TEXT[])`, the element
types read from the Table). psycopg2 renders a list as `ARRAY['a', NULL, ...]`, but a list of
only `None`s (a chunk whose emails are all NULL, say) or an empty list as the untyped literal
`'{NULL,NULL}'` / `'{}'`, and then `unnest()` fails with "function unnest(unknown) is not
unique". With the casts, NULL elements
survive as NULLs and the strings `NULL` and `\\N` stay strings (they are quoted like any other
parameter). Second trap: psycopg2 adapts a Python *tuple* to a row constructor `(a, b, ...)`,
not to an array, so the columns are passed as lists.

Concurrency (PostgreSQL docs, "Transaction Isolation", Read Committed): a target row that is
concurrently updated or deleted makes MERGE re-evaluate its WHEN clauses, but "if MERGE attempts
an INSERT and a unique index is present and a duplicate row is concurrently inserted, then a
uniqueness violation error is raised; MERGE does not attempt to avoid such errors by restarting
evaluation of MATCHED conditions". The MERGE page points to `INSERT ... ON CONFLICT` instead,
"which offers the ability to run an UPDATE if a concurrent INSERT occurs", and the INSERT page
says ON CONFLICT DO UPDATE "guarantees an atomic INSERT or UPDATE outcome ... even under high
concurrency". Also, as with ON CONFLICT, a target row may be matched by only one source row
(a cardinality violation otherwise): deduplicate keys first.

Use it when you need what ON CONFLICT cannot do in one statement (conditional branches,
`WHEN NOT MATCHED BY SOURCE THEN DELETE` on PostgreSQL 17+, matching on columns without a
unique index) and no one inserts the same keys concurrently; for a plain upsert, ON CONFLICT is
the safer choice.
"""

from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

from strategies._orm import Address, User
from strategies._sql import merge_statement

TAGS = {"library": "sqlalchemy", "api": "core", "technique": "sql_merge", "threaded": False}

CHUNK = 1_000


def merge_from_arrays(work, table, names):
    """`text()` MERGE into `table` (in the run's schema) whose source unnests one bound array per
    column in `names`."""
    dialect = postgresql.dialect()
    arrays = ", ".join(f"CAST(:{n} AS {table.c[n].type.compile(dialect)}[])" for n in names)
    source = f"(SELECT * FROM unnest({arrays}) AS u({', '.join(names)}))"
    return text(merge_statement(work.table(table.name), source))


def merge_rows(conn, work, table, names, rows):
    """MERGE `rows` (tuples in `names` order) into `table`, CHUNK rows a statement."""
    statement = merge_from_arrays(work, table, names)
    for start in range(0, len(rows), CHUNK):
        columns = zip(*rows[start:start + CHUNK])  # rows -> one sequence per column
        # lists, not tuples: psycopg2 sends a list as an ARRAY, a tuple as a row constructor
        conn.execute(statement, {name: list(values) for name, values in zip(names, columns)})


def main(work):
    # the MERGE text names work.table(); the translate map qualifies statements built on a Table
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with engine.begin() as conn:  # one transaction, committed when the block ends
            # users before the addresses that reference them
            merge_rows(conn, work, User.__table__, work.columns["users"], work.users())
            merge_rows(conn, work, Address.__table__, work.columns["addresses"], work.addresses())
    finally:
        engine.dispose()
