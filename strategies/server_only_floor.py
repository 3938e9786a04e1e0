"""Server-only floor: `INSERT ... SELECT ... ON CONFLICT` from rows already inside the server.

A reference row, not a strategy anyone ships. Before the pass, untimed, the harness has loaded
this phase's rows into an unlogged table inside the server (`work.staged_table(...)`); `main()`
connects, runs the two set-based upserts from there, users then addresses, in one transaction
(the same statements `COPY`-to-staging strategies end with), and commits. It is timed like every
other strategy, over all of `main()`, so it is a true lower bound for a single connection: no
row crosses the network, nothing is parsed or escaped by Python, and what is left is one
connection's handshake plus the server's own, unavoidable work — finding each key in the
primary-key index, writing heap and index tuples and WAL, checking the foreign key of every
address, committing. Its server CPU (`server_cpu_s`) is the server-work floor.

Every other strategy's time is also shown as a multiple of this one: the multiple says how
much a technique spends on getting the rows into the server, and how much room is left.
"""

import psycopg

from strategies._sql import column_list, upsert_statement

TAGS = {"library": "postgresql", "api": "server", "technique": "on_conflict", "threaded": False,
        "reference": True}


def main(work):
    with psycopg.connect(work.dsn) as conn:
        for table in ("users", "addresses"):
            source = f"SELECT {column_list(table)} FROM {work.staged_table(table)}"
            conn.execute(upsert_statement(work.table(table), source))
        conn.commit()
