"""psycopg2: one `INSERT ... ON CONFLICT DO UPDATE` per row in autocommit mode, a commit per row.

The naive baseline: the row-by-row loop of psycopg2_row_by_row, but with
`conn.autocommit = True`. The psycopg2 docs describe the mode: "no transaction is handled by
the driver and every statement sent to the backend has immediate effect". So every row is its
own transaction, and every commit waits for the server to flush the write-ahead log to disk
(with PostgreSQL's default `synchronous_commit = on`). On top of the round trip and the parse
and plan per row, each row now pays a WAL flush: on a real disk that flush, not the SQL, is
the cost.

This is what code ends up doing when it calls `commit()` after each statement, or runs through
a framework or tool whose connections autocommit. Each row is still an atomic insert-or-update
(ON CONFLICT), and a failure leaves every earlier row written; users are written, and
committed, before the addresses that reference them.

Use it only when every row must be durable on its own as soon as it is sent (an event log
written as events happen); never for bulk loads. Batching rows into one transaction
(psycopg2_row_by_row) removes the per-row flush without changing anything else.
"""

import psycopg2

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "row_by_row", "threaded": False}



def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        conn.autocommit = True  # every execute() below is committed on its own
        with conn.cursor() as cur:
            for table in ("users", "addresses"):  # users first: addresses reference them
                sql = upsert_statement(work.table(table), f"VALUES {placeholders(table)}")
                for row in work.rows(table):
                    cur.execute(sql, row)
    finally:
        conn.close()
