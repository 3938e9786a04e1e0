"""asyncpg: `copy_records_to_table` (binary COPY) into a temp table, then `INSERT ... ON CONFLICT`.

Inside one transaction, for each table: `CREATE TEMP TABLE stage_<table> (LIKE <table>) ON
COMMIT DROP`, then `Connection.copy_records_to_table()`, which the asyncpg docs describe as
"Copy a list of records to the specified table using binary COPY", then one set-based
`INSERT INTO t (cols) SELECT cols FROM stage ON CONFLICT (id) DO UPDATE SET ...`. asyncpg first
asks the server for the staging table's column types (it prepares `SELECT cols FROM stage LIMIT
1`) and encodes every value with that type's binary codec, so the binary-COPY trap that
psycopg needs `set_types()` for (a small Python `int` sent as a 2-byte `smallint` into an
`integer` column) does not arise, and there is no text escaping to get wrong: `\\N`, `\\.`,
`NULL`, tabs, newlines and backslashes are plain bytes, `None` is NULL.

The staging table is temporary and dropped at commit, so nothing is left behind; its name is
not schema-qualified (temporary tables live in `pg_temp`, searched first), while `LIKE` and the
`INSERT` name the target with the run's schema (`work.table(...)`), whatever the session's
`search_path`.

Caveats: the staged rows must be unique by key (one statement cannot update a row twice); the
whole batch is one transaction, so one bad row fails all; the records are streamed, but the
upsert itself runs only once every row is staged. A temp table per small batch bloats the
catalogue: keep batches large.

Use it for large batches in asyncio code: it is asyncpg's fastest way to move rows in.
"""

import asyncio

import asyncpg

from strategies._sql import upsert_statement

TAGS = {"library": "asyncpg", "api": "driver", "technique": "copy_staging", "threaded": False}


async def upsert(work):
    conn = await asyncpg.connect(work.dsn)
    try:
        async with conn.transaction():  # commits at the end of the block, rolls back on error
            for table in ("users", "addresses"):  # users first: addresses reference them
                stage = f"stage_{table}"
                columns = work.columns[table]
                await conn.execute(
                    f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
                await conn.copy_records_to_table(stage, records=work.rows(table), columns=columns)
                select = f"SELECT {', '.join(columns)} FROM {stage}"
                await conn.execute(upsert_statement(work.table(table), select))
    finally:
        await conn.close()


def main(work):
    asyncio.run(upsert(work))
