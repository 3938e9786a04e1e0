"""psycopg 3: streaming `COPY` from a generator into staging, then `INSERT ... ON CONFLICT`; rows never all in memory.

The same technique as `psycopg_copy_staging`, written for inputs larger than memory: the rows
come from a generator (`work.iter_users()`, `work.iter_addresses()`; TAGS `streaming` tells the
harness not to build the row lists in advance) and go straight into `Copy.write_row()`, which
psycopg buffers and sends in chunks. At no point does the process hold more than a chunk of
rows, so its peak memory stays flat as the input grows — compare its memory slope with the
list-based strategies in a scaling sweep (`nox -s sweep`). The staging table and the single
set-based upsert are the same as in the list-based version; generating the rows is now inside
the timed region (the price of not holding them).

Caveats: one transaction for the whole load (the staging table lives until commit), so the
server holds every row until then — streaming saves client memory, not server work; as with
any staging approach, keys must be unique in the input.

Use it for exports from another system, files, or any source you can iterate over but would
rather not materialise.
"""

import psycopg

from strategies._sql import column_list, upsert_statement

TAGS = {"library": "psycopg", "api": "driver", "technique": "copy_staging", "threaded": False,
        "streaming": True}


def main(work):
    with psycopg.connect(work.dsn) as conn:  # commits when the block ends without error
        for table, rows in (("users", work.iter_users()), ("addresses", work.iter_addresses())):
            stage = f"stage_{table}"
            cols = column_list(table)
            conn.execute(f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
            with conn.cursor().copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in rows:  # one row at a time, straight from the generator
                    copy.write_row(row)
            conn.execute(upsert_statement(work.table(table), f"SELECT {cols} FROM {stage}"))
