"""psycopg2: `execute_values` with `INSERT ... ON CONFLICT DO UPDATE`, 1,000 rows a statement.

`psycopg2.extras.execute_values` expands one `VALUES %s` placeholder into a page of row
literals, escaped client-side by psycopg2, so each statement carries 1,000 rows: one round trip
per page instead of per row. `ON CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...` makes each
row an insert or an update atomically, even against concurrent writers (PostgreSQL guarantees
an insert or an update outcome for every row).

Caveats: a page must not hold the same key twice ("ON CONFLICT DO UPDATE command cannot affect
row a second time"); deduplicate first. The SQL text grows with the page, and the server parses
a new statement for every page.

Use it as the default bulk upsert with psycopg2: simple, fast, correct.
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
            execute_values(cur, upsert_statement(work.table("users")), work.users(),
                           page_size=PAGE_SIZE)
            execute_values(cur, upsert_statement(work.table("addresses")), work.addresses(),
                           page_size=PAGE_SIZE)
    finally:
        conn.close()
