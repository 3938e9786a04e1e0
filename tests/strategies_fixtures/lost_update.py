"""Test fixture: under contention, writes stale values for the contended rows (a lost update).

In the insert pass it writes the workload's rows. In the update pass it writes the update values
for every row except the contended ones, for which it writes back the insert phase's values
after the second writer has had time to write its own: the final values there are neither
writer's, which contention mode must report.
"""

import time

from experiments.passes.contender import contended_ids
from experiments.workload import address_row, user_row
from tests.strategies_fixtures.ok_copy import write_rows

TAGS = {"library": "psycopg", "technique": "on_conflict", "threaded": False}


def main(work):
    if work.phase == "insert":
        write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
        return
    stale = set(contended_ids(work.total))
    time.sleep(0.5)  # let the contender write first; then overwrite with what we "read" earlier
    users = [user_row(i, "insert", work.total) if i in stale else row for i, row in enumerate(work.users(), 1)]
    addresses = [address_row(i, "insert", work.total) if i in stale else row
                 for i, row in enumerate(work.addresses(), 1)]
    write_rows(work.dsn, {"users": users, "addresses": addresses})
