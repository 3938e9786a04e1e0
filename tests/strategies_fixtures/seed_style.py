"""Test fixture: written for the original project, `def main(total: int)`.

It finds the DSN, thread count and schema through `experiments.config.CONFIG`, as the original's
strategies used `lib.config.CONFIG`, and writes the workload's rows for the current phase into
`<CONFIG.schema>.<table>`.
"""

from concurrent.futures import ThreadPoolExecutor

import psycopg

from experiments.config import CONFIG
from experiments.workload import address_row, user_row


def main(total: int):
    dsn, threads, phase = CONFIG.database_url, CONFIG.total_threads, CONFIG.phase
    assert CONFIG["TOTAL_THREADS"] == threads and CONFIG.total_items == total
    users = [user_row(i, phase, total) for i in range(1, total + 1)]
    addresses = [address_row(i, phase, total) for i in range(1, total + 1)]
    sql = ("INSERT INTO {t} VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
           "({c}) = ROW(EXCLUDED.{e})")

    def write(table, cols, rows):
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            cur.executemany(sql.format(t=f"{CONFIG.schema}.{table}", c=", ".join(cols[1:]),
                                       e=", EXCLUDED.".join(cols[1:])), rows)

    with ThreadPoolExecutor(threads) as pool:  # users first, then addresses
        list(pool.map(lambda part: write("users", ("id", "name", "email", "bio", "karma"), part),
                      [users[i::threads] for i in range(threads)]))
        list(pool.map(lambda part: write("addresses", ("id", "user_id", "street", "city", "postcode"), part),
                      [addresses[i::threads] for i in range(threads)]))
