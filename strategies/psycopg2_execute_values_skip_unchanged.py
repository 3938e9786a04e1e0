"""psycopg2: `execute_values` with `ON CONFLICT DO UPDATE ... WHERE` a value differs, 1,000 rows a statement.

psycopg2_execute_values with one clause more: `INSERT INTO users AS t (cols) VALUES %s ON
CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ... WHERE (t.name, t.email, ...) IS DISTINCT
FROM (EXCLUDED.name, EXCLUDED.email, ...)` over every non-key column. A key that exists with exactly
the incoming values is not updated: no new row version, no new index entries, no dead tuple
for VACUUM to clean up, and `n_tup_upd` does not move. The row-wise `IS DISTINCT FROM` treats
NULL against NULL as equal and NULL against a value as a change, where `<>` would give NULL.
Rows stay 1,000 a statement, escaped client-side by psycopg2, as in the blind version.

Caveat, locks: the WHERE is evaluated after the conflicting row is locked. The INSERT docs:
"Only rows for which this expression returns true will be updated, although all rows will be
locked when the ON CONFLICT DO UPDATE action is taken" (PostgreSQL's `ExecOnConflictUpdate`
calls `table_tuple_lock` before it tests the WHERE). Locking an unchanged row sets its xmax:
the page is dirtied, a lock record goes to the WAL, and the first change to a page after a
checkpoint writes the whole page (a full-page image). Re-sending 5,000 unchanged rows a table
right after a checkpoint wrote 29% of the blind upsert's WAL in tests/test_skip_unchanged.py
(a lock record per row, an image of every page), where the COPY-and-filter and MERGE variants,
which lock nothing, wrote 4%. Concurrent writers of the same keys wait for the lock as they
would for an update. Equality is the column type's `=`: a change that compares equal (numeric
`1.0` to `1.00`, text under a nondeterministic collation) is skipped. A page must not hold the
same key twice.

Use it when many re-sent rows are unchanged and the cost you care about is table bloat, index
churn, triggers or replication of no-op updates; to avoid the WAL of the locks too, filter the
unchanged rows out before the upsert (psycopg_copy_staging_skip_unchanged).
"""

import psycopg2
from psycopg2.extras import execute_values

from strategies._sql import upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "on_conflict", "threaded": False}

PAGE_SIZE = 1_000


def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                statement = upsert_statement(work.table(table), skip_unchanged=True)
                execute_values(cur, statement, work.rows(table), page_size=PAGE_SIZE)
    finally:
        conn.close()
