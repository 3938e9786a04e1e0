"""psycopg2: `execute_batch` with `INSERT ... ON CONFLICT DO UPDATE`, 100 statements a round trip.

`psycopg2.extras.execute_batch(cur, sql, rows, page_size=100)` is one of psycopg2's "fast
execution helpers". It renders the single-row statement once per row, with the parameters
escaped client-side exactly as `execute()` does, and joins `page_size` of them with semicolons
into one multi-statement string: one network round trip per page instead of per row. The
server still parses, plans and executes every statement separately, so it removes the waiting
but not the per-row server work. One transaction, committed at the end; users before
addresses; ON CONFLICT keeps each row an atomic insert-or-update.

Page size: the default is 100 and the psycopg2 docs recommend no other value (they only define
it as "maximum number of argslist items to include in every statement"). This strategy keeps
100, passed explicitly: at 100 statements a page the round trips are already 1% of the
row-by-row count, and what remains (a parse and plan per statement on the server) does not
depend on the page size. A larger page only grows the SQL string each round trip carries.

Caveats: after the call `cursor.rowcount` is not a total (documented). The docs also suggest
pairing it with a server-side prepared statement (`PREPARE stmt AS ...; execute_batch(cur,
"EXECUTE stmt (%s, %s)", rows)`) to skip the re-planning; this strategy shows the plain form.

Use it when the statement cannot be turned into one multi-row `VALUES` (any per-row statement
works), otherwise prefer execute_values, which sends one statement per page.
"""

import psycopg2
from psycopg2.extras import execute_batch

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "on_conflict", "threaded": False}

PAGE_SIZE = 100  # execute_batch's default; see the docstring


def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                sql = upsert_statement(work.table(table), f"VALUES {placeholders(table)}")
                execute_batch(cur, sql, work.rows(table), page_size=PAGE_SIZE)
    finally:
        conn.close()
