"""psycopg2: `UPDATE ... FROM (VALUES ...)` then `INSERT ... WHERE NOT EXISTS`, 1,000 rows a chunk.

The upsert written without ON CONFLICT, as it was before PostgreSQL 9.5 and as it still is on
databases without an upsert statement. For each chunk of 1,000 rows, two statements built by
`psycopg2.extras.execute_values` (which expands the single `VALUES %s` into the chunk's rows,
escaped client-side):

1. `UPDATE t SET col = v.col, ... FROM (VALUES ...) AS v(id, ...) WHERE t.id = v.id` updates
   the rows that exist;
2. `INSERT INTO t (...) SELECT ... FROM (VALUES ...) AS v(id, ...) WHERE NOT EXISTS (SELECT 1
   FROM t WHERE t.id = v.id)` inserts the ones that do not.

Both run every time (the insert pass updates nothing, the update pass inserts nothing), all in
one transaction committed at the end, users before addresses.

Trap: a `VALUES` list has no declared column types; PostgreSQL infers each column's type from
its values, and a column that is NULL in every row of a chunk comes out as `text`, which an
`integer` column will not take. The row template therefore casts every placeholder,
`(%s::integer, %s::text, ...)`, so the types never depend on the data.

Caveat, concurrency: this is not safe with concurrent writers. Say the UPDATE found no row for
id 42 and another transaction inserts id 42 before our INSERT runs. If that transaction has
not committed yet, our INSERT's NOT EXISTS does not see its row, the insert waits on the
primary key for it and then fails with a unique violation (without a unique index: a
duplicate). If it has committed, NOT EXISTS sees the row and skips it, so our values for 42
are silently dropped: neither updated nor inserted. The PostgreSQL docs on `INSERT ... ON
CONFLICT DO UPDATE`
say it "guarantees an atomic INSERT or UPDATE outcome; provided there is no independent error,
one of those two outcomes is guaranteed, even under high concurrency". Update-then-insert
gives no such guarantee: it needs a retry loop, a table lock (`LOCK TABLE t IN SHARE ROW
EXCLUSIVE MODE`), or a single writer. It also does two joins per chunk instead of one.

Use it when ON CONFLICT is not available (no unique index to infer from, old servers, other
databases), or to compare; with a single writer it is correct.
"""

import psycopg2
from psycopg2.extras import execute_values

from contract.workload import COLUMNS
from strategies._sql import column_list, column_types, update_set

TAGS = {"library": "psycopg2", "api": "driver", "technique": "update_then_insert", "threaded": False}

CHUNK = 1_000


def statements(work, table):
    """The UPDATE, the INSERT and the row template for `table`."""
    target, cols = work.table(table), column_list(table)
    source = f"(VALUES %s) AS v ({cols})"
    update = f"UPDATE {target} AS t SET {update_set(table, 'v')} FROM {source} WHERE t.id = v.id"
    insert = (f"INSERT INTO {target} ({cols}) SELECT {', '.join('v.' + c for c in COLUMNS[table])} "
              f"FROM {source} WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t.id = v.id)")
    template = "(" + ", ".join(f"%s::{sql_type}" for sql_type in column_types(table)) + ")"
    return update, insert, template


def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                update, insert, template = statements(work, table)
                rows = work.rows(table)
                for start in range(0, len(rows), CHUNK):
                    chunk = rows[start:start + CHUNK]
                    execute_values(cur, update, chunk, template=template, page_size=CHUNK)
                    execute_values(cur, insert, chunk, template=template, page_size=CHUNK)
    finally:
        conn.close()
