"""Contention mode's second writer: `python -m experiments.passes.contender ...`, beside a strategy.

While the strategy's timed update pass runs, this process upserts an overlapping slice of the
same keys with values of its own (the workload's "contend" rows), over and over, in small
transactions of 100 rows (users, then addresses) that it holds open for a moment before
committing, in ascending id order like most strategies (so lock-order deadlocks come only from
strategies that lock in another order). That is the situation where upsert techniques differ:
`INSERT ... ON CONFLICT` waits for the other transaction and then updates; `MERGE`,
update-then-insert and select-then-write can fail with a unique violation on keys the other
writer has just inserted but not yet committed.

It retries what PostgreSQL says to retry (deadlocks, serialization failures), counts everything,
and when it gets SIGTERM it finishes its batch and writes one JSON line of counts to `--result`.
The DSN comes from the environment (UPSERT_BENCH_DATABASE_URL), never argv.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import psycopg
from psycopg import errors

from contract.workload import COLUMNS, CONTEND, ROW_FUNCTIONS
from experiments import ENV_PREFIX

BATCH_ROWS = 100
HOLD_S = 0.01  # how long each batch's transaction stays open before it commits


def contended_ids(total: int) -> list[int]:
    """The keys both writers fight over: the lower half of the ids, in ascending order."""
    return list(range(1, max(1, total // 2) + 1))


def upsert_sql(schema: str, table: str) -> str:
    cols = COLUMNS[table]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "id")
    marks = ", ".join(["%s"] * len(cols))
    return (f"INSERT INTO {schema}.{table} ({', '.join(cols)}) VALUES ({marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}")


def run(dsn: str, schema: str, total: int, ready: Path, go: Path | None = None) -> dict:
    counts = {"batches": 0, "rows": 0, "retries": 0, "deadlocks": 0, "serialization_failures": 0,
              "unique_violations": 0, "foreign_key_violations": 0, "other_errors": 0, "last_error": ""}
    stopping = False

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    ids = contended_ids(total)
    rows = {t: [ROW_FUNCTIONS[t](i, CONTEND, total) for i in ids] for t in ("users", "addresses")}
    statements = {t: upsert_sql(schema, t) for t in rows}
    with psycopg.connect(dsn, application_name="upsert-bench-contender") as conn:
        ready.write_text("ready\n")
        while go is not None and not go.exists() and not stopping:  # start with the strategy's clock
            time.sleep(0.001)
        while not stopping:
            for start in range(0, len(ids), BATCH_ROWS):
                if stopping:
                    break
                try:
                    with conn.transaction():
                        with conn.cursor() as cur:
                            for table in ("users", "addresses"):  # users first: the foreign key
                                cur.executemany(statements[table], rows[table][start:start + BATCH_ROWS])
                        time.sleep(HOLD_S)
                    counts["batches"] += 1
                    counts["rows"] += len(rows["users"][start:start + BATCH_ROWS])
                except errors.DeadlockDetected as error:
                    counts["deadlocks"] += 1
                    counts["retries"] += 1
                    counts["last_error"] = str(error).splitlines()[0]
                except errors.SerializationFailure as error:
                    counts["serialization_failures"] += 1
                    counts["retries"] += 1
                    counts["last_error"] = str(error).splitlines()[0]
                except errors.UniqueViolation as error:
                    counts["unique_violations"] += 1
                    counts["last_error"] = str(error).splitlines()[0]
                except errors.ForeignKeyViolation as error:
                    # not expected (its address i belongs to its own user i); counted apart so a
                    # workload change that breaks this shows in run.log; not retried
                    counts["foreign_key_violations"] += 1
                    counts["last_error"] = str(error).splitlines()[0]
                except psycopg.Error as error:
                    counts["other_errors"] += 1
                    counts["last_error"] = str(error).splitlines()[0] if str(error) else type(error).__name__
                    if conn.closed:
                        return counts
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.passes.contender")
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, help="wait for this file before writing")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--schema", default="public", help="the run's schema (names every table)")
    args = parser.parse_args(argv)
    counts = run(os.environ[ENV_PREFIX + "DATABASE_URL"], args.schema, args.items, args.ready, args.go)
    args.result.write_text(json.dumps(counts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
