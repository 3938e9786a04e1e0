"""psycopg2: `COPY` into a temporary staging table, then `MERGE` updating only changed rows (PostgreSQL 15+).

psycopg2_copy_merge's staging (`copy_expert` into a `TEMP` table created `LIKE` the target,
the COPY text escaped by `strategies/_psycopg2_copy.py`), then `MERGE INTO t USING stage AS s
ON t.id = s.id WHEN MATCHED AND (t.name, ...) IS DISTINCT FROM (s.name, ...) THEN UPDATE SET
... WHEN NOT MATCHED THEN INSERT ...`. A matched row whose values are all equal satisfies no
WHEN clause, and MERGE then does nothing with it: no new row version, no index entries, no
dead tuple, and no row lock (PostgreSQL's `ExecMergeMatched` fetches the target row without
locking it and tests each WHEN condition before any action; only an UPDATE or DELETE action
takes the row): re-sending 5,000 unchanged rows a table after a checkpoint wrote 4% of
psycopg2_copy_merge's WAL in tests/test_skip_unchanged.py, nearly all of it the temporary
tables' catalogue entries. Row-wise `IS DISTINCT FROM`
treats NULL against NULL as equal.

Caveats, concurrency: those of psycopg2_copy_merge (MERGE is not an atomic upsert: a row
inserted concurrently after the snapshot is a unique violation, SQLSTATE 23505, to retry),
and a skipped row is not locked: a concurrent change or delete after the statement's snapshot
survives, where the unconditional MERGE would have waited and written this batch's values (a
row MERGE does update is re-checked on its newest version, in Read Committed). Equality is the
column type's `=` (numeric `1.0` to `1.00` counts as unchanged). A source with the same key
twice is an error.

Use it when many re-sent rows are unchanged and MERGE is wanted anyway (conditions, deletes,
portability); under concurrent writers of the same keys prefer psycopg_copy_staging_skip_unchanged.
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
                cur.execute(merge_statement(work.table(table), stage, skip_unchanged=True))
    finally:
        conn.close()
