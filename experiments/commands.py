"""The small commands that inspect a server's tables (`describe` is experiments/describe.py).

`create-tables`, `count-rows` and `print-rows` work on the server given by `--dsn` or the
DATABASE_URL setting (`UPSERT_BENCH_DATABASE_URL` in the environment) (a benchmark run's embedded server is gone when the run ends; start one
that stays with `python -m experiments serve`).
"""

from __future__ import annotations

import signal
import time

import psycopg
from psycopg import sql

from contract.errors import UsageError
from contract.workload import COLUMNS
from experiments import ENV_PREFIX
from experiments.database import schema
from experiments.database.schema import qualified
from experiments.servers import ServerSpec, open_target
from experiments.servers.sessions import connect_failure
from experiments.urls import redact_dsn, with_params

def connect(dsn: str, schema_name: str) -> psycopg.Connection:
    if not dsn:
        raise UsageError("no server: pass --dsn postgresql://... or set UPSERT_BENCH_DATABASE_URL "
                         "(`python -m experiments serve` starts one that stays up)")
    try:
        return psycopg.connect(with_params(dsn, schema_name), autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise UsageError(f"cannot connect to {redact_dsn(dsn)}: {connect_failure(error)}") from None


def create_tables(dsn: str, schema_name: str) -> str:
    with connect(dsn, schema_name) as conn, conn.transaction():  # all or nothing, with the check
        if schema_name != "public":
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema_name)))
        schema.create_tables(conn, schema_name)
    return f"tables users and addresses exist in schema {schema_name}"


def _require_tables(conn: psycopg.Connection, schema_name: str) -> None:
    missing = [t for t in COLUMNS if conn.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema_name, t)).fetchone()[0] is None]
    if missing:
        raise UsageError(f"schema {schema_name} has no table {', '.join(missing)}: run create-tables first")


def count_rows(dsn: str, schema_name: str) -> str:
    with connect(dsn, schema_name) as conn:
        _require_tables(conn, schema_name)
        counts = [f"{t}: {conn.execute(sql.SQL('SELECT count(*) FROM {}').format(qualified(schema_name, t))).fetchone()[0]}"
                  for t in COLUMNS]
    return "\n".join(counts)


def print_rows(dsn: str, schema_name: str, limit: int) -> str:
    lines = []
    with connect(dsn, schema_name) as conn:
        _require_tables(conn, schema_name)
        for table, columns in COLUMNS.items():
            lines.append(f"# {table} (first {limit} by id)")
            lines.append("\t".join(columns))
            query = sql.SQL("SELECT * FROM {} ORDER BY id LIMIT %s").format(qualified(schema_name, table))
            for row in conn.execute(query, (limit,)):
                lines.append("\t".join(_cell(v) for v in row))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def serve(spec: ServerSpec, echo) -> None:
    """Start an embedded server with the tables, print its DSN, wait for Ctrl-C, clean up."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
    with open_target(spec, run_id="serve", application="upsert-bench:serve") as target:
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            schema.create_tables(conn, target.schema)
        echo(f"PostgreSQL {target.server_version} is up with empty tables users and addresses.")
        echo(f"export {ENV_PREFIX}DATABASE_URL='{target.dsn}'")
        echo("Ctrl-C stops it and removes its data.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            echo("stopping")
