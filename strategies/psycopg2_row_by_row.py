"""psycopg2: one `execute()` of `INSERT ... ON CONFLICT DO UPDATE` per row, one commit at the end.

The loop everybody writes first: `cur.execute("INSERT ... VALUES (%s, %s, ...) ON CONFLICT (id)
DO UPDATE SET col = EXCLUDED.col, ...", row)` for every row. psycopg2 merges the parameters into
the SQL text on the client, quoting and escaping each value itself (a `None` becomes `NULL`, a
string becomes a quoted literal, so quotes, backslashes, `\\N` and `NULL`-the-string all arrive
intact), sends the statement and waits for its result. Each row therefore costs one network
round trip and one parse and plan on the server, which dominates everything else.

The connection is in psycopg2's default mode: the first `execute()` opens a transaction and
`with conn:` commits it when the block ends, so all rows share one transaction and the server
flushes its WAL to disk once, at the commit. The users are written before the addresses in
the same transaction, so every address sees the user it references. ON CONFLICT makes each
row's insert-or-update atomic, even against concurrent writers.

`cursor.executemany()` is no faster: the psycopg2 docs warn that "in its current
implementation this method is not faster than executing `execute()` in a loop" and point to
the fast execution helpers (`execute_batch`, `execute_values`) instead.

Use it for a handful of rows, or when each row needs its own logic between statements; for
bulk loads, batch the rows (see psycopg2_execute_batch, psycopg2_execute_values).
"""

import psycopg2

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "row_by_row", "threaded": False}



def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits once, at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                sql = upsert_statement(work.table(table), f"VALUES {placeholders(table)}")
                for row in work.rows(table):
                    cur.execute(sql, row)
    finally:
        conn.close()
