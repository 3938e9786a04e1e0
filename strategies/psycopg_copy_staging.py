"""psycopg 3: `COPY` into a temporary staging table, then `INSERT ... SELECT ... ON CONFLICT`.

Rows stream to the server with `COPY ... FROM STDIN` (psycopg's `Copy.write_row` handles the
escaping of tabs, newlines, backslashes and NULL), into a `TEMP` table created `LIKE` the
target and dropped at commit. One set-based statement then upserts all of them:
`INSERT INTO t SELECT ... FROM stage ON CONFLICT (id) DO UPDATE SET ...`. COPY is the fastest
way to move rows into PostgreSQL, and the upsert runs entirely inside the server.

Caveats: the staging rows must be unique by key (one statement cannot update a row twice);
the whole batch is one transaction, so one bad row fails all; temp tables bloat the catalogue
if created per small batch.

Use it for large batches: it is the closest a client gets to the server-only floor.
"""

import psycopg

from strategies._sql import column_list, upsert_statement

TAGS = {"library": "psycopg", "api": "driver", "technique": "copy_staging", "threaded": False}


def main(work):
    with psycopg.connect(work.dsn) as conn:  # commits when the block ends without error
        for table in ("users", "addresses"):  # users first: addresses reference them
            stage = f"stage_{table}"
            cols = column_list(table)
            conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
            with conn.cursor().copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in work.rows(table):
                    copy.write_row(row)
            conn.execute(upsert_statement(work.table(table), f"SELECT {cols} FROM {stage}"))
