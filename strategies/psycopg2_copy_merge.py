"""psycopg2: `COPY` (`copy_expert`) into a temporary staging table, then `MERGE` (PostgreSQL 15+).

The same staging as psycopg2_copy_staging: rows stream with `cursor.copy_expert("COPY stage
(...) FROM STDIN (FORMAT text)", file)` into a `TEMP` table created `LIKE` the target and
dropped at commit. Then the SQL-standard statement instead of ON CONFLICT: `MERGE INTO t USING
stage AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET ... WHEN NOT MATCHED THEN INSERT ...`.
MERGE is a join: it needs no unique index to decide, and it can also delete or act on
conditions. Users before addresses, in one transaction committed at the end.

The COPY trap and its workaround are the same as psycopg2_copy_staging's: psycopg2 does not
escape anything on COPY ("no adaptation is provided between Python and PostgreSQL types on
COPY", its docs say), so `strategies/_psycopg2_copy.py` writes COPY's text format itself:
`None` -> `\\N`; backslash, tab, newline and carriage return escaped (backslash first); the
empty string and the literal strings `\\N`, `NULL`, `\\.` kept as data. It streams rows lazily
from a small file-like reader, 64 KiB per `read()`.

Caveat, concurrency: MERGE is not an atomic upsert. The PostgreSQL docs (Concurrency Control,
Read Committed): "If MERGE attempts an INSERT and a unique index is present and a duplicate
row is concurrently inserted, then a uniqueness violation error is raised; MERGE does not
attempt to avoid such errors by restarting evaluation of MATCHED conditions." The MERGE page
itself points to `INSERT ... ON CONFLICT` "as an alternative statement which offers the
ability to run an UPDATE if a concurrent INSERT occurs", which "guarantees an atomic INSERT or
UPDATE outcome ... even under high concurrency" (INSERT docs). With concurrent writers of the
same keys, MERGE needs a retry on unique violation (SQLSTATE 23505); ON CONFLICT does not.
Like ON CONFLICT, a source with the same key twice is an error.

Use it when the logic is more than insert-or-update (conditional updates, deletes of rows
missing from the source) or for portability to other SQL databases; for a plain upsert under
concurrency, prefer ON CONFLICT.
"""

import psycopg2

from strategies._psycopg2_copy import CopyTextReader
from strategies._sql import column_list, merge_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "copy_merge", "threaded": False}

READ_SIZE = 64 * 1024  # characters per read() call that copy_expert makes


def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                stage = f"stage_{table}"
                cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
                cur.copy_expert(f"COPY {stage} ({column_list(table)}) FROM STDIN (FORMAT text)",
                                CopyTextReader(work.rows(table)), size=READ_SIZE)
                cur.execute(merge_statement(work.table(table), stage))
    finally:
        conn.close()
