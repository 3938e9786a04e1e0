"""psycopg 3: `COPY` into a temporary staging table, then upsert only the new and changed rows.

psycopg_copy_staging's staging (`COPY ... FROM STDIN` with `Copy.write_row`, into a `TEMP`
table created `LIKE` the target and dropped at commit), then one statement that leaves the
unchanged rows out before they reach the upsert: `INSERT INTO t (cols) SELECT s.* FROM stage
AS s LEFT JOIN t AS cur ON cur.id = s.id WHERE cur.id IS NULL OR (cur.name, ...) IS DISTINCT
FROM (s.name, ...) ON CONFLICT (id) DO UPDATE SET ...`. A key that exists with exactly the
incoming values is only read: no new row version, no index entries, no dead tuple, and, unlike
`ON CONFLICT DO UPDATE ... WHERE` (which locks every conflicting row before testing its WHERE,
psycopg2_execute_values_skip_unchanged), no row lock either: re-sending 5,000 unchanged rows
a table after a checkpoint wrote 4% of psycopg_copy_staging's WAL in
tests/test_skip_unchanged.py, nearly all of it the temporary tables' catalogue entries.
Row-wise `IS DISTINCT FROM` treats NULL against NULL as equal.

Caveats, concurrency: the filter reads the table as of the statement's snapshot, without
locks. Every row that passes it is still an atomic insert-or-update (ON CONFLICT), so a row
inserted concurrently is updated, not a unique violation. But a row skipped as unchanged is
not protected: a concurrent transaction that changes or deletes it after the snapshot keeps
its change (deleted stays deleted), where the blind upsert would have waited for it and then
written this batch's values. If "the table holds this batch when we commit" must hold against
concurrent writers, lock first or use the blind upsert. Equality is the column type's `=`
(numeric `1.0` to `1.00` counts as unchanged). Staged rows must be unique by key; the join
compares every column of every row, long text included, which costs server time when most
rows did change.

Use it for large batches of which many rows are re-sent unchanged (periodic full syncs): it
writes only what changed.
"""

import psycopg

from strategies._sql import changed_rows, column_list, upsert_statement

TAGS = {"library": "psycopg", "api": "driver", "technique": "copy_staging", "threaded": False}


def main(work):
    with psycopg.connect(work.dsn) as conn:  # commits when the block ends without error
        for table in ("users", "addresses"):  # users first: addresses reference them
            stage = f"stage_{table}"
            target = work.table(table)
            conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {target}) ON COMMIT DROP")
            with conn.cursor().copy(f"COPY {stage} ({column_list(table)}) FROM STDIN") as copy:
                for row in work.rows(table):
                    copy.write_row(row)
            conn.execute(upsert_statement(target, changed_rows(target, stage)))
