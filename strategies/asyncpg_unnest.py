"""asyncpg: `INSERT ... SELECT * FROM unnest($1::int[], ...) ON CONFLICT`, 5,000 rows a statement.

The rows are turned column-wise: each column of a chunk becomes one Python list, passed as one
array parameter (asyncpg maps PostgreSQL arrays to Python lists; `None` elements are NULL).
The multi-argument `unnest(a, b, c, ...)` in `FROM` zips the arrays back into rows, which go
through `INSERT ... ON CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...`. A chunk is one
statement with five parameters whatever its row count, so the SQL text never changes: asyncpg
prepares it once and keeps it in its statement cache, and each chunk is a single Bind/Execute.
All writes run in one `async with conn.transaction()` block, committed at its end.

The casts (`$1::int[]`, `$2::text[]`, ...) tell the server the parameter types; asyncpg then
encodes each list with the binary array codec for that type, so there is no array-literal
quoting involved at all: the string `'NULL'`, the empty string, quotes, backslashes and control
characters are bytes, and `None` is a NULL element. An empty list is a valid empty array.

Chunk size 5,000 (the same as `psycopg_unnest`): fewer chunks mean fewer executions, but the
client encodes and the server decodes a whole chunk before inserting its first row, so memory
grows with it. Measured here at 100,000 rows a table, 1,000- and 5,000-row chunks took the same
time within noise, while one 100,000-row chunk was ~1.5x slower, used 1.6x the client CPU and
~20x the traced Python memory of 5,000-row chunks. 5,000 keeps memory bounded at any batch
size at no measurable cost. One chunk must not hold the same id twice (ON CONFLICT cannot
update a row twice in one statement).

Caveats: asyncpg honours the DSN's `options=-csearch_path=...` only because it passes query
options it does not recognise as server settings (sent in the startup packet, like libpq); a
libpq-only option such as `connect_timeout` in the URI fails the connection instead.

Use it for bulk upserts in asyncio code when COPY is not an option (poolers, no temp tables):
set-based, one fixed statement, close to COPY speed.
"""

import asyncio

import asyncpg

from strategies._sql import column_types, upsert_statement

TAGS = {"library": "asyncpg", "api": "driver", "technique": "unnest", "threaded": False}

CHUNK_ROWS = 5_000


def statement(work, table):
    types = column_types(table, "[]")  # integer[], text[], ... in column order
    arrays = ", ".join(f"${n}::{array_type}" for n, array_type in enumerate(types, start=1))
    return upsert_statement(work.table(table), f"SELECT * FROM unnest({arrays})")


async def upsert(work):
    conn = await asyncpg.connect(work.dsn)
    try:
        async with conn.transaction():  # commits at the end of the block, rolls back on error
            for table in ("users", "addresses"):  # users first: addresses reference them
                sql, rows = statement(work, table), work.rows(table)
                for start in range(0, len(rows), CHUNK_ROWS):
                    columns = [list(column) for column in zip(*rows[start:start + CHUNK_ROWS])]
                    await conn.execute(sql, *columns)
    finally:
        await conn.close()


def main(work):
    asyncio.run(upsert(work))
