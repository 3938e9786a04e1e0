"""No strategy can reach past the run's schema, whatever its session's search_path says.

A `--dsn` run through a pooler that drops the libpq `options` startup parameter leaves the
search_path at `"$user", public`; a strategy that named its tables without the schema then wrote
into the user's own `public.users`. Here every strategy runs in a real worker process, as the
harness starts it (`--schema` the run's schema R), but its DSN points the session's search_path
at a decoy schema D that has its own `users` and `addresses` full of bystander rows. The pass
must verify in R, and D must be left exactly as it was: same rows, same relations.
"""

from __future__ import annotations

import os
import sys

import psycopg
import pytest
from psycopg import sql

from contract.workload import COLUMNS, DEFAULT_PHASES as PHASES, Keys, Workload
from experiments import REPO_ROOT
from experiments.catalog import discover
from experiments.database import schema
from experiments.database.verify import verify
from experiments.process import child_env, run_worker
from experiments.urls import with_params

CATALOGUE = {s.name: s for s in discover(REPO_ROOT / "strategies")}
ITEMS = 60
THREADS = 2
TIMEOUT_S = 120
IDS = range(1, ITEMS + 1)
RUN = f"strategy_run_{os.getpid()}"  # the run's schema (R)
DECOY = f"strategy_decoy_{os.getpid()}"  # where the session's search_path points (D)


def snapshot(conn: psycopg.Connection) -> dict:
    """The decoy's relations, and each table's row count and md5 of its rows in id order."""
    relations = conn.execute("SELECT relname, relkind FROM pg_class WHERE relnamespace = %s::regnamespace"
                             " ORDER BY relname", (DECOY,)).fetchall()
    digest = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {} AS t")
    rows = {table: conn.execute(digest.format(sql.Identifier(DECOY, table))).fetchone() for table in COLUMNS}
    return {"relations": relations, "rows": rows}


@pytest.fixture(scope="module")
def schemas(pg_dsn):
    """R with the harness's tables and both phases staged, D with bystander rows; both dropped
    at the end. Yields the harness's connection (autocommit, in R)."""
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        for name in (RUN, DECOY):
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        try:
            with psycopg.connect(with_params(pg_dsn, DECOY), autocommit=True) as decoy:
                schema.create_tables(decoy, DECOY)  # the same DDL as the run's tables
                bystanders = {"users": [(i, f"bystander {i}", None, "not yours", 7) for i in IDS],
                              "addresses": [(i, i, "1 Elsewhere", None, "00000") for i in IDS]}
                with decoy.transaction(), decoy.cursor() as cur:  # someone else's rows, same ids
                    for table, rows in bystanders.items():
                        insert = sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s, %s)")
                        cur.executemany(insert.format(sql.Identifier(DECOY, table)), rows)
            with psycopg.connect(with_params(pg_dsn, RUN), autocommit=True) as conn:
                schema.create_tables(conn, RUN)
                schema.load_start(conn, RUN, Keys(ITEMS))
                for phase in PHASES:
                    schema.load_stage(conn, Workload(pg_dsn, ITEMS, phase, THREADS, schema=RUN))
                yield conn
        finally:
            for name in (RUN, DECOY):
                admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.mark.slow
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("name", list(CATALOGUE))
def test_strategy_writes_only_its_run_schema(schemas, pg_dsn, tmp_path, name, phase):
    """The worker (no `--check-schema`) with the session's search_path on the decoy: the pass
    verifies in the run's schema and the decoy is untouched. Rule R21 in docs/adding-a-strategy.md."""
    conn = schemas
    schema.prepare_pass(conn, RUN, phase, ITEMS)
    before = snapshot(conn)
    result = tmp_path / "result.json"
    argv = [sys.executable, "-m", "experiments.passes.worker", "--strategy-file", str(CATALOGUE[name].path),
            "--phase", phase, "--items", str(ITEMS), "--threads", str(THREADS), "--result", str(result),
            "--schema", RUN]
    outcome = run_worker(argv, child_env(with_params(pg_dsn, DECOY)), TIMEOUT_S, result,
                         tmp_path / "worker.out", REPO_ROOT)
    assert outcome.result.get("error") == "" and not outcome.error, (outcome.error, outcome.output_tail)
    assert snapshot(conn) == before, f"{name} wrote into the decoy schema, its session's search_path"
    check = verify(conn, RUN, phase, ITEMS)
    assert check.success, check.problem
