"""Test fixture: a fault, not a strategy. Its update pass SIGKILLs the PostgreSQL postmaster it
is connected to (the parent of its own backend) in the middle of the pass."""

import os
import signal
import time

import psycopg

from tests.strategies_fixtures.ok_copy import write_rows


def main(work):
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
    if work.phase != "update":
        return
    with psycopg.connect(work.dsn) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with open(f"/proc/{backend}/stat") as stat:  # "pid (comm) state ppid ..."
            postmaster = int(stat.read().rsplit(")", 1)[1].split()[1])
        os.kill(postmaster, signal.SIGKILL)
        time.sleep(1)
        conn.execute("SELECT 1")  # the server is gone: this raises
