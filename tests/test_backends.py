"""Backends beyond the embedded default: docker (pinning, spec, cleanup; a real run only with an
engine), local binaries, DSN with a private schema (the bystander test), settings, versions."""

import datetime
import json
import re
from types import SimpleNamespace

import psycopg
import pytest

from experiments import DOCKER_LABEL
from contract.errors import UsageError
from experiments.run.preflight import check_version
from experiments.config import parse_pg_settings
from experiments.servers import Target, parse_pg
from experiments.servers.cluster import Cluster
from experiments.servers.docker import (PinnedImage, container_spec, engine, load_images, ours,
                                        pinned)
from experiments.servers.embedded import embedded_versions, newest_embedded
from experiments.servers.local import local_versions

from conftest import bystander_server, fingerprint, read_results, run_cli  # noqa: F401 (a fixture)


def docker_engine_reason() -> str:
    """Empty when a Docker engine answers, else why not."""
    try:
        engine()
        return ""
    except UsageError as error:
        return str(error)


NO_ENGINE = docker_engine_reason()
LOCAL = local_versions()


# -- docker, the parts that need no engine --------------------------------------------------
def test_images_are_pinned_by_digest_for_every_major():
    images = load_images()
    assert set(images) == {"15", "16", "17", "18"}
    for major, image in images.items():
        assert image.tag.split(".")[0] == major
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", image.digest)
        assert image.reference == f"postgres:{image.tag}@{image.digest}"
        checked = datetime.date.fromisoformat(image.checked)
        assert checked <= datetime.date.today()


def test_images_file_rejects_a_bad_line(tmp_path):
    bad = tmp_path / "images.txt"
    bad.write_text("16 16.15 sha256:abc 2026-01-01\n")
    with pytest.raises(ValueError, match="line 1"):
        load_images(bad)


def test_unknown_docker_major_is_a_one_line_error():
    with pytest.raises(UsageError, match="pinned images are 15, 16, 17, 18"):
        pinned("14")


def test_container_spec_is_loopback_random_port_labelled_and_pinned():
    image = PinnedImage("16", "16.15", "sha256:" + "a" * 64, "2026-11-25")
    spec = container_spec(image, "20261125-000000-abcd", "s3cret", {"synchronous_commit": "off"})
    assert spec["image"] == "postgres:16.15@sha256:" + "a" * 64
    assert spec["ports"] == {"5432/tcp": ("127.0.0.1", None)}
    assert spec["labels"][DOCKER_LABEL] == "1"
    assert spec["labels"][f"{DOCKER_LABEL}.run-id"] == "20261125-000000-abcd"
    assert spec["environment"] == {"POSTGRES_PASSWORD": "s3cret"}
    assert spec["command"] == ["postgres", "-c", "synchronous_commit=off"]
    assert spec["detach"] is True and "20261125-000000-abcd" in spec["name"]


def test_cleanup_selects_only_labelled_containers():
    mine = SimpleNamespace(name="a", labels={DOCKER_LABEL: "1"})
    other = SimpleNamespace(name="b", labels={"com.example": "1"})
    bare = SimpleNamespace(name="c", labels=None)
    assert ours([mine, other, bare]) == [mine]


@pytest.mark.skipif(not NO_ENGINE, reason="a Docker engine answers here")
def test_docker_without_engine_fails_at_once_in_one_line(repo_copy):
    done = run_cli("run", "--pg", "docker:16", "--items", "10", cwd=repo_copy, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a Docker engine, and none answers" in lines[0]
    assert list((repo_copy / "results").iterdir()) == []


@pytest.mark.db
@pytest.mark.skipif(bool(NO_ENGINE), reason=f"no Docker engine: {NO_ENGINE}")
def test_docker_backend_runs_a_real_pass(tmp_path):  # pragma: no cover - needs an engine
    results = tmp_path / "results"
    done = run_cli("run", "--pg", "docker:16", "--items", "50", "--repeat", "1", "--no-memory",
                   "--strategies", "psycopg2_execute_values", "--results-dir", str(results), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    folder, rows = read_results(results)
    assert {r["backend"] for r in rows} == {"docker"} and all(r["success"] == "True" for r in rows)
    assert rows[0]["pg_version"].startswith("16.")
    assert "postgres:***@" in json.loads((folder / "manifest.json").read_text())["servers"][0]["dsn"]
    assert ours(engine().containers.list(all=True)) == []


# -- settings and versions -------------------------------------------------------------------
def test_pg_settings_parse_and_reject():
    assert parse_pg_settings("shared_buffers=256MB; synchronous_commit = off") == {
        "shared_buffers": "256MB", "synchronous_commit": "off"}
    for bad in ("shared_buffers", "=1", "Bad Name=1", "fsync="):
        with pytest.raises(UsageError, match="expected name=value"):
            parse_pg_settings(bad)


def test_pg_values_parse():
    newest = newest_embedded()
    assert parse_pg("")[0].version == newest
    assert [s.label for s in parse_pg("16,18")] == ["embedded:16", "embedded:18"]
    assert [s.label for s in parse_pg("docker:17")] == ["docker:17"]
    with pytest.raises(UsageError, match="unknown --pg 'mysql:8'"):
        parse_pg("mysql:8")


def test_servers_older_than_15_are_refused_naming_the_merge_strategies():
    """MERGE strategies are found by their technique tag. Rule R9 in docs/adding-a-strategy.md."""
    from experiments.catalog import Strategy

    target = Target("dsn", "dsn", "postgresql://x", "s", "14.9")
    strategies = [Strategy("psycopg2_copy_merge", None, tags={"technique": "copy_merge"}),
                  Strategy("psycopg2_execute_values", None, tags={"technique": "on_conflict"})]
    with pytest.raises(UsageError, match=r"PostgreSQL 14\.9 \(dsn\) is older than 15: MERGE strategies "
                                         r"\(psycopg2_copy_merge\) need 15\+"):
        check_version(target, strategies)
    check_version(Target("dsn", "dsn", "postgresql://x", "s", "15.2"), strategies)


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_pg_setting_reaches_the_server_and_the_manifest(tmp_path):
    results = tmp_path / "results"
    done = run_cli("run", "--items", "30", "--repeat", "1", "--no-memory", "--results-dir", str(results),
                   "--strategies", "psycopg2_execute_values", "--pg-setting", "synchronous_commit=off",
                   "--pg-setting", "work_mem=8MB")
    assert done.returncode == 0, done.stdout + done.stderr
    folder, _ = read_results(results)
    server = json.loads((folder / "manifest.json").read_text())["servers"][0]
    assert server["requested_settings"] == {"synchronous_commit": "off", "work_mem": "8MB"}
    assert server["non_default_settings"]["synchronous_commit"]["setting"] == "off"
    assert "PG_SETTINGS=synchronous_commit=off;work_mem=8MB" in (folder / "config.env").read_text()


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_version_matrix_in_one_run_folder(tmp_path):
    versions = list(embedded_versions())
    results = tmp_path / "results"
    done = run_cli("run", "--pg", ",".join(versions), "--items", "30", "--repeat", "1", "--no-memory",
                   "--strategies", "psycopg2_execute_values,server_only_floor", "--results-dir", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    folder, rows = read_results(results)
    assert {r["pg_version"].split(".")[0] for r in rows} == set(versions)
    assert len(rows) == 2 * 2 * len(versions)
    from analysis.aggregate import aggregate
    from analysis.load import load_runs

    table = aggregate(load_runs(results).passes)
    assert table["pg_version"].nunique() == len(versions)  # never averaged across versions


# -- local binaries --------------------------------------------------------------------------
@pytest.mark.db
@pytest.mark.skipif(not LOCAL, reason="no PostgreSQL binaries on this machine (PATH, /usr/lib/postgresql)")
def test_local_binaries_backend(tmp_path):
    major = list(LOCAL)[0]
    results = tmp_path / "results"
    done = run_cli("run", "--pg", f"local:{major}", "--items", "40", "--repeat", "1", "--no-memory",
                   "--strategies", "psycopg2_execute_values,psycopg2_copy_merge", "--results-dir", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    folder, rows = read_results(results)
    assert {r["backend"] for r in rows} == {"local"}
    assert all(r["pg_version"].startswith(major + ".") and r["success"] == "True" for r in rows)
    server = json.loads((folder / "manifest.json").read_text())["servers"][0]
    assert server["bin_dir"] == str(LOCAL[major]) and server["data_dir_filesystem"]


@pytest.mark.skipif(not LOCAL, reason="no PostgreSQL binaries on this machine")
def test_pg_bin_must_hold_postgres(tmp_path):
    done = run_cli("run", "--pg-bin", str(tmp_path), "--items", "10")
    assert done.returncode == 2 and "no initdb and postgres in that folder" in done.stderr


# -- DSN: a private schema, nothing else touched ---------------------------------------------
@pytest.mark.slow
def test_dsn_run_touches_nothing_outside_its_private_schema(bystander_server, tmp_path):
    """Every strategy, both phases, against a server whose public schema has its own users and
    addresses: afterwards its schemas, relations and rows are exactly as before."""
    before = fingerprint(bystander_server)
    results = tmp_path / "results"
    done = run_cli("run", "--items", "40", "--repeat", "1", "--results-dir", str(results),
                   env={"UPSERT_BENCH_DATABASE_URL": bystander_server})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    folder, rows = read_results(results)
    assert all(r["success"] == "True" for r in rows)
    assert fingerprint(bystander_server) == before  # the memory processes went through the counting relay
    server = json.loads((folder / "manifest.json").read_text())["servers"][0]
    assert server["kind"] == "dsn" and server["schema"].startswith("upsert_bench_")
    assert server["transport"] == "unix socket" and len(server["round_trip_times"]) == 2  # start, end
    assert all(int(r["round_trips"]) > 0 and int(r["wire_connections"]) >= 1 for r in rows)


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_keep_schema_keeps_it_and_an_existing_schema_is_refused(bystander_server, tmp_path):
    results = tmp_path / "results"
    done = run_cli("run", "--items", "20", "--repeat", "1", "--no-memory", "--results-dir", str(results),
                   "--strategies", "psycopg2_execute_values", "--schema", "kept_here", "--keep-schema",
                   env={"UPSERT_BENCH_DATABASE_URL": bystander_server})
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(bystander_server) as conn:
        assert conn.execute("SELECT count(*) FROM kept_here.users").fetchone()[0] == 20
    again = run_cli("run", "--items", "20", "--schema", "kept_here", "--results-dir", str(results),
                    env={"UPSERT_BENCH_DATABASE_URL": bystander_server})
    assert again.returncode == 2 and "schema kept_here already exists" in again.stderr
    with psycopg.connect(bystander_server, autocommit=True) as conn:
        conn.execute("DROP SCHEMA kept_here CASCADE")


def test_pg_setting_is_refused_for_a_dsn_server(bystander_server):
    done = run_cli("run", "--items", "20", "--pg-setting", "work_mem=8MB",
                   env={"UPSERT_BENCH_DATABASE_URL": bystander_server})
    assert done.returncode == 2 and "not ours to configure" in done.stderr
