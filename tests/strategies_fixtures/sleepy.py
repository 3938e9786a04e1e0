"""Test fixture: correct, but takes a while (for interrupting a run mid-pass)."""

import time

from tests.strategies_fixtures.ok_copy import write_rows


def main(work):
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
    time.sleep(0.3)
