"""Test fixture: writes its rows correctly, then leaves behind a detached child process (its own
session, so the harness's kill of the worker's process group misses it) holding a connection in
an open transaction with an ACCESS EXCLUSIVE lock on both tables. The child writes its pid to
`$LEAKED_PID_FILE.<worker pid>` and exits only when its connection is ended."""

import os
import subprocess
import sys
import time

from tests.strategies_fixtures.ok_copy import write_rows

CHILD = """
import os, sys, time, psycopg
conn = psycopg.connect(os.environ["UPSERT_BENCH_DATABASE_URL"])
conn.execute("LOCK TABLE users, addresses IN ACCESS EXCLUSIVE MODE")  # opens a transaction
open(sys.argv[1], "w").write(str(os.getpid()))
try:
    while True:
        time.sleep(0.2)
        conn.execute("SELECT 1")
except psycopg.Error:
    sys.exit(0)
"""


def main(work):
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
    ready = os.environ["LEAKED_PID_FILE"] + f".{os.getpid()}"  # one per worker process
    child = subprocess.Popen([sys.executable, "-c", CHILD, ready], start_new_session=True,
                             stdin=subprocess.DEVNULL)
    while not os.path.exists(ready) and child.poll() is None:
        time.sleep(0.02)
    if child.poll() is not None:
        raise RuntimeError("the lock-holding child did not start")
    while os.path.getsize(ready) == 0:
        time.sleep(0.01)
