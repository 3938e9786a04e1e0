"""--dsn through a real PgBouncer (Debian's package): the run never writes outside its schema.

A run's sessions reach its schema through the libpq startup parameter
`options=-csearch_path=<schema>`. PgBouncer refuses that parameter by default, drops it with
`ignore_startup_parameters = options`, and in transaction pooling hands each transaction to any
server connection. Against a server whose public schema holds `users` and `addresses` of its
own (`bystander_server`):

(a) `options` refused: one line naming PgBouncer's message, exit status 2;
(b) `options` dropped: the run refuses in one line, exit 2; everything outside is unchanged;
(c) session pooling with the search_path reaching the server: the run works. PgBouncer 1.18
    (Debian 12) never forwards `options` (1.20 learned to), so the search_path comes from the
    server: the run's schema is named like the role (`--schema postgres`), and the default
    search_path `"$user", public` starts every session there;
(d) transaction pooling, the same way: which strategies fail and why (`TRANSACTION_POOLING`,
    the table docs/usage.md shows, regenerated with UPDATE_DOCS=1).
"""

from __future__ import annotations

import os
import re

import psycopg
import pytest

from experiments import REPO_ROOT
from experiments.catalog import discover

from conftest import bystander_server, fingerprint, read_results, run_cli  # noqa: F401 (a fixture)
from pooler import pgbouncer

USAGE = REPO_ROOT / "docs" / "usage.md"
ROLE_SCHEMA = "postgres"  # the role the tests connect as: "$user" in the default search_path


def run_through(dsn: str, results, *args: str):
    return run_cli("run", "--dsn", dsn, "--results-dir", str(results), "--repeat", "1", "--no-memory",
                   *args, timeout=900)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_options_refused_by_the_pooler_is_one_line(bystander_server, tmp_path):
    """(a) PgBouncer's default refuses the startup parameter: its message, exit 2, nothing done."""
    before = fingerprint(bystander_server)
    with pgbouncer(bystander_server, "postgres", pool_mode="transaction") as dsn:
        done = run_through(dsn, tmp_path / "results", "--strategies", "psycopg_copy_binary", "--items", "50")
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert "unsupported startup parameter: options" in line and "pooler" in line, line
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    assert fingerprint(bystander_server) == before


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_options_dropped_by_the_pooler_refuses_and_writes_nothing(bystander_server, tmp_path, pool_mode):
    """(b) The issue's sequence: PgBouncer with `ignore_startup_parameters = options,
    extra_float_digits`; the run stops in one line, exit 2, before its first write: no schema
    of its own left, the bystanders' rows (md5), relations and write counters unchanged."""
    before = fingerprint(bystander_server)
    with pgbouncer(bystander_server, "postgres", pool_mode=pool_mode,
                   ignore=("options", "extra_float_digits")) as dsn:
        done = run_through(dsn, tmp_path / "results", "--strategies", "psycopg_copy_binary,server_only_floor",
                           "--items", "500")
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line(done.stderr)
    assert re.search(r"ignored the search_path option: sessions start in schema public .*not upsert_bench_", line), line
    assert "nothing was written" in line
    after = fingerprint(bystander_server)
    assert after == before, (before, after)
    assert before["rows"]["users"][0] == 100


@pytest.mark.slow
def test_session_pooling_with_the_search_path_reaching_the_server_works(bystander_server, tmp_path):
    """(c) Session pooling, options dropped, the run's schema named like the role: the
    search_path the server gives every session is the run's schema, the check passes, every
    pass is verified, and nothing outside the schema changed."""
    before = fingerprint(bystander_server)
    with pgbouncer(bystander_server, "postgres", pool_mode="session", ignore=("options",)) as dsn:
        done = run_through(dsn, tmp_path / "results", "--schema", ROLE_SCHEMA, "--items", "200",
                           "--strategies", "psycopg_copy_binary,psycopg2_execute_values,server_only_floor,"
                                           "sqlalchemy_orm_merge")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    _, rows = read_results(tmp_path / "results")
    assert len(rows) == 8 and all(r["success"] == "True" and r["values_ok"] == "True" for r in rows)
    assert fingerprint(bystander_server) == before


# -- (d) transaction pooling: what works, what does not, and why ------------------------------
CATALOGUE = {s.name: s for s in discover(REPO_ROOT / "strategies")}
# drivers that give statements names on the server: asyncpg prepares every statement it sends
# (`__asyncpg_stmt_N__`); psycopg 3 prepares a query from its 5th execution on a connection
# (`_pg3_N`), which only psycopg_executemany reaches. A transaction-mode pooler hands the next
# transaction to any server connection: one where another client left a statement of that name
# ("already exists") or one that never saw it ("does not exist").
PREPARES = {name for name, s in CATALOGUE.items() if s.library == "asyncpg"} | {"psycopg_executemany"}
PREPARED_ERROR = re.compile(r"prepared statement \S+ (already exists|does not exist)")
AT_RISK = ("**at risk**: its driver names prepared statements on the server; fails when a transaction "
           "lands where another client left one of the same name, or where its own is missing")


def outcomes_table() -> str:
    lines = ["| strategy | under transaction pooling |", "| --- | --- |"]
    for name in sorted(CATALOGUE):
        lines.append(f"| `{name}` | {AT_RISK if name in PREPARES else 'works'} |")
    return "\n".join(lines)


MARK_START = "<!-- transaction pooling table: generated by tests/test_pooler.py -->"
MARK_END = "<!-- end of transaction pooling table -->"


def test_the_round_trip_time_twice_behind_a_transaction_pooler(bystander_server):
    """The harness's round-trip measurement (210 x SELECT 1) at a run's start and end, through
    transaction pooling with one server connection: the second lands where the first left its
    session, so a prepared statement (psycopg prepares after 5 executions) would already exist."""
    from experiments.servers.wire import round_trip_time

    with pgbouncer(bystander_server, "postgres", pool_mode="transaction", ignore=("options",), pool_size=1) as dsn:
        first, second = round_trip_time(dsn, queries=20), round_trip_time(dsn, queries=20)
    assert first["queries"] == second["queries"] == 20 and second["median_ms"] > 0


@pytest.mark.slow
def test_transaction_pooling_outcomes_are_the_documented_ones(bystander_server, tmp_path):
    """(d) Every strategy through PgBouncer in transaction pooling (the search_path from the
    role's schema, so the check passes): every strategy that names no statement on the server
    verifies in both phases; every failed pass is one of PREPARES, failed for that reason, and
    recorded as a failed row; nothing outside the run's schema changes; docs/usage.md shows the
    table (UPDATE_DOCS=1 rewrites it). Which prepared-statement passes fail depends on what
    earlier clients left on the pooled connections, so the table says "fails when", not "fails"."""
    before = fingerprint(bystander_server)
    with pgbouncer(bystander_server, "postgres", pool_mode="transaction", ignore=("options",)) as dsn:
        done = run_through(dsn, tmp_path / "results", "--schema", ROLE_SCHEMA, "--items", "200",
                           "--timeout", "120")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    _, rows = read_results(tmp_path / "results")
    assert {r["strategy"] for r in rows} == set(CATALOGUE)
    failed = {(r["strategy"], r["phase"]): r["error"] for r in rows if r["success"] != "True"}
    assert all(name in PREPARES and PREPARED_ERROR.search(error) for (name, _), error in failed.items()), failed
    assert fingerprint(bystander_server) == before
    page = USAGE.read_text(encoding="utf-8")
    start, end = page.index(MARK_START) + len(MARK_START), page.index(MARK_END)
    if os.environ.get("UPDATE_DOCS") == "1":
        USAGE.write_text(page[:start] + "\n" + outcomes_table() + "\n" + page[end:], encoding="utf-8")
        return
    assert page[start:end].strip() == outcomes_table(), "docs/usage.md's table differs; UPDATE_DOCS=1 rewrites it"


def test_a_session_outside_the_schema_stops_the_run_before_the_worker(bystander_server):
    """The check before every worker of a --dsn run: a DSN whose sessions start elsewhere."""
    from experiments.servers.sessions import WrongSchema, check_new_session

    with pytest.raises(WrongSchema, match="sessions start in schema public .*not elsewhere"):
        check_new_session(bystander_server, "elsewhere")
    with psycopg.connect(bystander_server) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'elsewhere'").fetchone()[0] == 0
