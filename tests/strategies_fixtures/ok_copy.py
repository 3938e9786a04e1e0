"""Test fixture: a correct upsert (psycopg COPY into staging, then ON CONFLICT)."""

import psycopg

TAGS = {"library": "psycopg", "technique": "copy_staging", "threaded": False}


def write_rows(dsn, tables):
    """Upsert `tables` ({name: rows}) with COPY + INSERT ... ON CONFLICT, one transaction."""
    from strategies._sql import column_list, upsert_statement

    with psycopg.connect(dsn) as conn:
        for table, rows in tables.items():
            cols = column_list(table)
            conn.execute(f"CREATE TEMP TABLE s_{table} (LIKE {table}) ON COMMIT DROP")
            with conn.cursor().copy(f"COPY s_{table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.execute(upsert_statement(table, f"SELECT {cols} FROM s_{table}"))


def main(work):
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
