"""Shared fixtures: one real embedded PostgreSQL for the whole session, and CLI helpers.

Runs that need a server use `--dsn` to this one (each run gets its own private schema);
the tests about the embedded lifecycle itself start their own.
"""

from __future__ import annotations

import atexit
import csv
import os
import tempfile
import time
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from experiments import ENV_PREFIX, REPO_ROOT
from experiments.run.lock import LOCK_FILE_ENV
from experiments.servers import ServerSpec, open_target
from experiments.servers.cluster import Cluster
from experiments.servers.embedded import embedded_versions, newest_embedded

FIXTURES = REPO_ROOT / "tests" / "strategies_fixtures"

# -- one run at a time (experiments/run/lock.py) ------------------------------------------------
# The suite's runs take a lock file of this test process's own, not the machine's: `make test`
# beside your own `make bench` still works (both show the other's CPU as foreign load, so the
# bench's passes are flagged), and pytest-xdist workers do not refuse each other's runs. Runs
# started by the tests (run_cli, Popen) inherit it; tests/test_one_run_at_a_time.py checks the lock.
TEST_LOCK_FILE = Path(tempfile.gettempdir()) / f"upsert-bench-tests-{os.getpid()}.lock"
os.environ[LOCK_FILE_ENV] = str(TEST_LOCK_FILE)
atexit.register(lambda: TEST_LOCK_FILE.unlink(missing_ok=True))

# -- the unit lane (`make test-unit`: `pytest --no-server -m "not slow"`) ----------------------
# A test needs PostgreSQL when it asks for one of these fixtures (marked `db` automatically) or
# is marked `db` by hand (it starts a server itself, e.g. a whole run through the CLI). The unit
# lane deselects them, and fails any test that starts a PostgreSQL process anyway: the lane
# stays without a server by construction, not by care.
SERVER_FIXTURES = {"pg_dsn", "conn", "bystander_server", "poolers"}


def pytest_addoption(parser):
    parser.addoption("--no-server", action="store_true",
                     help="the unit lane: leave out tests that need PostgreSQL, fail one that starts it")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
    if not config.getoption("--no-server"):
        return
    kept = [item for item in items if item.get_closest_marker("db") is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def _postgres_processes() -> set[int]:
    """PostgreSQL (and PgBouncer) processes below this test process: servers that other work on
    the machine runs (a benchmark, another test session) are not this lane's business."""
    import psutil

    found = set()
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() in ("postgres", "postmaster", "initdb", "pgbouncer"):
                found.add(process.pid)
        except psutil.Error:  # exited meanwhile
            pass
    return found


@pytest.fixture(autouse=True)
def _no_server_in_the_unit_lane(request):
    """In the unit lane, a test that starts PostgreSQL (or PgBouncer) fails, naming the fix."""
    if not request.config.getoption("--no-server"):
        yield
        return
    before = _postgres_processes()
    yield
    started = _postgres_processes() - before
    if started:
        pytest.fail(f"{request.node.nodeid} started PostgreSQL (pids {sorted(started)}) in the unit "
                    "lane: mark it `@pytest.mark.db` (or `slow`)")


@pytest.fixture(scope="session")
def pg_dsn():
    """DSN of an embedded PostgreSQL (newest version) started once for the test session."""
    with open_target(ServerSpec("embedded", newest_embedded()), run_id="tests") as target:
        yield target.dsn


@pytest.fixture
def conn(pg_dsn):
    """A connection inside a fresh schema that is dropped afterwards."""
    schema = f"t_{os.getpid()}_{id(object())}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(f"SET search_path = {schema}")
            yield connection
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


def run_cli(*args: str, cwd: Path = REPO_ROOT, env: dict | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m experiments ...` in a fresh process, as a user would run it."""
    full_env = dict(os.environ)
    for name in [name for name in full_env if name.startswith(ENV_PREFIX) and name != LOCK_FILE_ENV]:
        full_env.pop(name)  # the developer's own settings must not leak into tests (the lock file is the suite's)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def read_results(results_dir: Path) -> tuple[Path, list[dict]]:
    """The single run folder under `results_dir` and its rows."""
    runs = [p for p in results_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected one run folder, found {runs}"
    with open(runs[0] / "results.csv", newline="", encoding="utf-8") as f:
        return runs[0], list(csv.DictReader(f))


def copy_repo(root: Path) -> Path:
    """A copy of the project (code, strategies, settings) in `root`, with its compiled bytecode
    (still valid: the copies keep their sources' times), so that its commands start as fast."""
    root.mkdir()
    for name in ("contract", "experiments", "analysis", "strategies", "tests", "locks", "docker"):
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("results"))
    shutil.copy(REPO_ROOT / ".env_dist", root / ".env_dist")
    (root / "results").mkdir()
    return root


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the project to break without touching the real one."""
    return copy_repo(tmp_path / "repo")


def wait_for_rows(results_dir: Path, rows: int, runner: subprocess.Popen, timeout_s: float = 120) -> Path:
    """The results.csv of the run `runner` is writing into `results_dir`, once it holds at least
    `rows` finished rows (fails if the run ends or takes longer than `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        csvs = list(results_dir.glob("*/results.csv")) if results_dir.exists() else []
        if csvs and len(csvs[0].read_text().splitlines()) - 1 >= rows:
            return csvs[0]
        assert runner.poll() is None, runner.communicate()
        time.sleep(0.05)
    pytest.fail(f"the run wrote fewer than {rows} rows within {timeout_s:.0f} s")


# -- a server that is not ours: its public schema holds tables named like ours ---------------
BYSTANDERS = 100


@pytest.fixture(scope="module")
def bystander_server():
    """A second server whose public schema holds users and addresses with rows of their own."""
    with Cluster(embedded_versions()[newest_embedded()], "bystander server") as cluster:
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE public.users (id int PRIMARY KEY, name text NOT NULL, email text, "
                         "bio text, karma int NOT NULL)")
            conn.execute("CREATE TABLE public.addresses (id int PRIMARY KEY, user_id int NOT NULL "
                         "REFERENCES public.users (id), street text NOT NULL, city text, postcode text)")
            conn.execute("INSERT INTO public.users SELECT g, 'bystander ' || g, NULL, 'keep me', g "
                         "FROM generate_series(1, %s) g", (BYSTANDERS,))
            conn.execute("INSERT INTO public.addresses SELECT g, g, 'Bystander Road', 'Nowhere', NULL "
                         "FROM generate_series(1, %s) g", (BYSTANDERS,))
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:  # the inserts counted, as a baseline
            deadline = time.monotonic() + 10
            while conn.execute("SELECT pg_stat_clear_snapshot(), sum(n_tup_ins) FROM pg_stat_user_tables "
                               "WHERE schemaname = 'public'").fetchone()[1] != 2 * BYSTANDERS:
                assert time.monotonic() < deadline, "the bystanders' inserts were never counted"
                time.sleep(0.05)
        yield cluster.dsn


def fingerprint(dsn: str) -> dict:
    """Everything outside temporary schemas: schemas, relations, the bystanders' rows (md5 of
    each table's rows in id order, as `psql` would compute it) and what the server counted of
    writes to them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        schemas = [r[0] for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' "
            "AND nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1")]
        relations = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_temp%' "
            "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2").fetchall()
        rows = {t: conn.execute(f"SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY id)) "
                                f"FROM public.{t} t").fetchone() for t in ("users", "addresses")}
        writes = conn.execute("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
                              "WHERE schemaname = 'public' ORDER BY 1").fetchall()
    return {"schemas": schemas, "relations": relations, "rows": rows, "writes": writes}
