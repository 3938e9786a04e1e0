"""The run folder describes itself, and no password reaches any file or a worker's argv."""

import json
from urllib.parse import urlsplit

import pytest

from contract.row import COLUMNS

from conftest import FIXTURES, read_results, run_cli

CONTRACT = ["run_id", "strategy", "phase", "repeat", "items", "threads", "backend", "pg_version",
            "duration_s", "wall_s", "peak_memory_mb", "allocations", "max_rss_mb", "users",
            "addresses", "counts_ok", "values_ok", "success", "error", "wal_bytes", "table_bytes",
            "dead_tuples", "hot_updates"]


@pytest.fixture(scope="module")
def password(pg_dsn):
    """The test server's own password (servers the harness starts use scram-sha-256)."""
    secret = urlsplit(pg_dsn).password
    assert secret and len(secret) >= 20
    return secret


@pytest.fixture(scope="module")
def password_run(pg_dsn, tmp_path_factory):
    """A run against a DSN that carries its password."""
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--items", "30", "--repeat", "2", "--strategies-dir", str(FIXTURES),
                   "--strategies", "ok_copy,argv_check", "--results-dir", str(results), "--seed", "7",
                   env={"UPSERT_BENCH_DATABASE_URL": pg_dsn})
    folder, rows = read_results(results)
    return done, folder, rows


def test_run_succeeds(password_run):
    done, _, rows = password_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(rows) == 2 * 2 * 2 and all(r["success"] == "True" for r in rows), [r["error"] for r in rows]


def test_folder_holds_every_file(password_run):
    _, folder, _ = password_run
    for name in ("results.csv", "config.env", "git.diff", "manifest.json", "run.log"):
        assert (folder / name).is_file(), name


def test_results_header_keeps_the_contract(password_run):
    _, folder, _ = password_run
    header = (folder / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:len(CONTRACT)] == CONTRACT
    assert header == COLUMNS


def test_no_password_anywhere_in_the_folder(password_run, password):
    done, folder, _ = password_run
    for path in folder.rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path.name
    assert password not in done.stdout + done.stderr
    assert "DATABASE_URL=postgresql://postgres:***@" in (folder / "config.env").read_text()


def test_manifest_records_the_environment(password_run):
    _, folder, rows = password_run
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["repeat"] == 2 and manifest["items"] == 30
    assert manifest["machine"]["python"] and manifest["machine"]["cpu_count"] >= 1
    assert manifest["machine"]["memory_gb"] > 0 and manifest["machine"]["cpu_model"]
    assert manifest["packages"]["installed"]["psycopg"] and manifest["packages"]["lock_sha256"]
    server = manifest["servers"][0]
    assert server["server_version"] == rows[0]["pg_version"]
    assert "non_default_settings" in server and server["kind"] == "dsn"
    assert {s["name"] for s in manifest["strategies"]} == {"ok_copy", "argv_check"}
    assert manifest["finished_at"] and manifest["rows"] == len(rows)


def test_order_is_shuffled_reproducibly_from_the_seed(password_run):
    _, _, rows = password_run
    from experiments.catalog import discover, select
    import random

    names = [s.name for s in select(discover(FIXTURES), "ok_copy,argv_check")]
    for repeat in (1, 2):
        expected = list(names)
        random.Random(f"7:dsn:{repeat}").shuffle(expected)
        got = sorted({(int(r["order"]), r["strategy"]) for r in rows if r["repeat"] == str(repeat)})
        assert [name for _, name in got] == expected
