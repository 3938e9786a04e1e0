"""Test fixture: opens connections until the server refuses one (more than max_connections),
keeping them all open, so the pass fails with the server's own reason."""

import psycopg

from tests.strategies_fixtures.ok_copy import write_rows

LIMIT = 500  # far above the max_connections the test sets


def main(work):
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
    held = []
    try:
        for _ in range(LIMIT):
            held.append(psycopg.connect(work.dsn))
    finally:
        for conn in held:
            conn.close()
    raise AssertionError(f"the server accepted {LIMIT} connections")
