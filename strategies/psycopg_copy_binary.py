"""psycopg 3: binary `COPY` into a temp staging table, then `INSERT ... SELECT ... ON CONFLICT`.

The same shape as `psycopg_copy_staging`, with `COPY ... FROM STDIN (FORMAT BINARY)` instead of
the text format. Rows stream to the server with `Copy.write_row()` into a `TEMP` table created
`LIKE` the target and dropped at commit; one set-based statement then upserts them all:
`INSERT INTO t SELECT ... FROM stage ON CONFLICT (id) DO UPDATE SET ...`. In binary format every
value is a length-prefixed byte string and NULL is a length of -1, so there is no text escaping
at all: `\\N`, `\\.`, `NULL`, tabs, newlines and backslashes are just bytes, and the server does
not parse the integers back from text.

The trap, and its workaround: the psycopg docs (Binary copy) warn that PostgreSQL "will apply
**no cast rules**" in binary mode, and psycopg dumps a Python `int` as the smallest type that
holds it, so "passing the value 100 to an `integer` column **will fail**" (the server rejects a
2-byte value where it expects 4). The documented fix is `Copy.set_types()` with the exact column
types, done here from a small table of types per column (`int4` and `text`). Without it this
strategy fails on the first row (`ProtocolViolation: insufficient data left in message ...
column id`).

Caveats: the types must match the table exactly (a `bigint` column needs `int8`), and a schema
change the type table misses usually fails loudly (a wrong integer width is a protocol error).
The psycopg docs say binary "usually gives a performance boost" but "only works if the source
and target schema are *perfectly identical*"; the text format is the forgiving one. As with
any staging upsert: the staged rows must be unique by key, the whole batch is one transaction,
and the temp table costs catalogue churn per batch.

Use it for large batches of numbers, timestamps or binary data, where text parsing is what
COPY spends its time on. On this mostly-text workload it was within noise of the text COPY of
`psycopg_copy_staging`, the simpler and more forgiving choice.
"""

import psycopg

from strategies._sql import column_list, column_types, upsert_statement

TAGS = {"library": "psycopg", "api": "driver", "technique": "copy_staging", "threaded": False}


def main(work):
    with psycopg.connect(work.dsn) as conn:  # commits when the block ends without error
        for table in ("users", "addresses"):  # users first: addresses reference them
            stage = f"stage_{table}"
            cols = column_list(table)
            conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
            with conn.cursor() as cur:
                with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(column_types(table))  # the exact type of every column
                    for row in work.rows(table):
                        copy.write_row(row)
            conn.execute(upsert_statement(work.table(table), f"SELECT {cols} FROM {stage}"))
