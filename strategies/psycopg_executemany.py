"""psycopg 3: `cursor.executemany()` with `INSERT ... ON CONFLICT DO UPDATE`, one row per execution.

The plainest DB-API way to write many rows: one parameterised statement,
`INSERT INTO t (cols) VALUES (%s, ...) ON CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...`,
and `executemany()` runs it once per row. psycopg 3 binds parameters on the server (query and
values travel separately), so there is no client-side escaping to get wrong: quotes,
backslashes, `\\N`, `NULL` and the empty string arrive exactly as given, and `None` is SQL NULL.

Since psycopg 3.1 this is not a round trip per row any more. The cursor docs say executemany's
"performance [is] optimised by making use of the pipeline mode, when using libpq 14 or newer",
and the pipeline page says "Starting from Psycopg 3.1, `Cursor.executemany()` is optimised to make
use of pipeline mode": every row's Bind/Execute is sent without waiting for the previous result,
with a single Sync at the end. In psycopg's source (3.3) executemany also prepares the statement
on the server on its first row (`prepare=True`, whatever `prepare_threshold` says), so the server
parses and plans it once and then only executes. The wheel installed here ships libpq 18, so the
pipeline is used (`psycopg.Pipeline.is_supported()`).

Caveats: still one statement execution per row on the server (parse is saved, execute is not),
so it trails the set-based techniques (`VALUES` pages, unnest, COPY). psycopg picks `int2`, `int4`
or `int8` per value, so the prepared statement's parameter types can differ between rows and
psycopg then prepares another one: harmless. With pipeline mode an error surfaces only at the
Sync, for the whole batch; keep the default non-autocommit connection so it is one transaction.

Use it when the code must stay plain DB-API and batches are moderate; on psycopg 3.1+ it is a
reasonable default that needs no SQL tricks.
"""

import psycopg

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "psycopg", "api": "driver", "technique": "on_conflict", "threaded": False}


def statement(work, table):
    return upsert_statement(work.table(table), f"VALUES {placeholders(table)}")


def main(work):
    with psycopg.connect(work.dsn) as conn:  # commits when the block ends without error
        with conn.cursor() as cur:
            for table in ("users", "addresses"):  # users first: addresses reference them
                cur.executemany(statement(work, table), work.rows(table))
