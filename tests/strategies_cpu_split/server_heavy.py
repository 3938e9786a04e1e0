"""test: one statement that keeps its backend busy (counting three million generated rows), one
connection, almost no client work (fails verification; its CPU columns still count)."""

import psycopg

TAGS = {"library": "psycopg", "api": "driver", "technique": "none", "threaded": False}


def main(work):
    with psycopg.connect(work.dsn) as conn:
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
