"""psycopg2: a `ThreadedConnectionPool` of `work.threads` threads, each upserting its share.

The rows are cut into `work.threads` contiguous slices; each thread takes a connection from
`psycopg2.pool.ThreadedConnectionPool` and writes its slice of users, then the same slice of
addresses, with `execute_values` and `INSERT ... ON CONFLICT DO UPDATE`, committing once.
psycopg2 releases the GIL while it waits for the server, so threads overlap their round trips
and the server works on several backends at once.

Caveats: slices must not overlap (two transactions upserting the same keys in different orders
can deadlock); more threads than server cores mostly adds contention; each thread commits on
its own, so a failure leaves the other slices written.

Use it when one connection leaves the server idle between round trips and the data splits
cleanly by key.
"""

from concurrent.futures import ThreadPoolExecutor

from psycopg2.extras import execute_values
from psycopg2.pool import ThreadedConnectionPool

from strategies._sql import upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "on_conflict", "threaded": True}

PAGE_SIZE = 1_000


def main(work):
    users, addresses = work.users(), work.addresses()
    size = -(-len(users) // work.threads)  # ceiling division: every row in exactly one slice
    pool = ThreadedConnectionPool(work.threads, work.threads, work.dsn)

    def upsert_slice(start):
        conn = pool.getconn()
        try:
            with conn, conn.cursor() as cur:
                execute_values(cur, upsert_statement(work.table("users")),
                               users[start:start + size], page_size=PAGE_SIZE)
                execute_values(cur, upsert_statement(work.table("addresses")),
                               addresses[start:start + size], page_size=PAGE_SIZE)
        finally:
            pool.putconn(conn)

    try:
        with ThreadPoolExecutor(max_workers=work.threads) as executor:
            list(executor.map(upsert_slice, range(0, len(users), size)))  # list() re-raises errors
    finally:
        pool.closeall()
