"""asyncpg: `executemany()` with `INSERT ... ON CONFLICT DO UPDATE` ($1..$5), one transaction.

asyncpg speaks the PostgreSQL protocol itself (no libpq) and runs parameterised queries as
prepared statements: `executemany()` prepares `INSERT INTO t (cols) VALUES ($1, ..., $5) ON
CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...` once, learns the parameter types from the
server, then sends one Bind/Execute per row. Since asyncpg 0.22 those are batched into large
write buffers with a single Sync at the end (MagicStack/asyncpg#295), so the rows are pipelined
rather than a round trip each, and the docs state that `executemany()` "is now an atomic
operation": all rows or none. Both tables are written inside `async with conn.transaction()` so
users and addresses commit together; `asyncio.run()` drives the coroutine from the synchronous
`main()`.

Parameters travel in binary format, encoded by the type the server reported, so there is no
escaping to get wrong (`\\N`, `NULL`, quotes, backslashes and control characters are plain
bytes; `None` is NULL) and Python `int`s become `int4` because the column is `integer`. The price
is strictness: asyncpg does not convert types for you, a `str` for an `integer` parameter raises
`DataError` instead of being cast.

Caveats: the server still executes the statement once per row, so set-based techniques (unnest,
COPY) are faster. asyncpg does not read every libpq option: it recognises a documented list and
"will treat unrecognized options as server settings". That is why the DSN's
`options=-csearch_path=...` works (it is sent as the `options` startup parameter, exactly as
libpq sends it), but it also means a libpq-only option such as `connect_timeout` in the URI makes
the connection fail (`unrecognized configuration parameter`); pass it as a keyword instead.

Use it as the simple bulk upsert in asyncio code: one call, atomic, pipelined, no SQL tricks.
"""

import asyncio

import asyncpg

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "asyncpg", "api": "driver", "technique": "on_conflict", "threaded": False}


def statement(work, table):
    return upsert_statement(work.table(table), f"VALUES {placeholders(table, '$')}")


async def upsert(work):
    # asyncpg honours both the DSN's host=/socket/dir and its options=-csearch_path=...
    conn = await asyncpg.connect(work.dsn)
    try:
        async with conn.transaction():  # commits at the end of the block, rolls back on error
            for table in ("users", "addresses"):  # users first: addresses reference them
                await conn.executemany(statement(work, table), work.rows(table))
    finally:
        await conn.close()


def main(work):
    asyncio.run(upsert(work))
