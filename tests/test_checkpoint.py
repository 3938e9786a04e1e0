"""The CHECKPOINT before every pass, `--no-checkpoint` without it, and the full-page images a
pass's WAL holds (`wal_fpi`, `wal_fpi_bytes`: experiments/database/full_pages.py)."""

from __future__ import annotations

import json

import psycopg
import pytest

from analysis.aggregate import aggregate
from analysis.load import load_runs
from contract.manifest import Manifest
from experiments.__main__ import build_parser
from experiments.config import load_settings
from experiments.database.full_pages import FullPages, waldump_fpi_bytes
from experiments.servers import Target
from experiments.servers.cluster import Cluster
from experiments.servers.local import local_versions
from experiments.settings_table import run_flag_values

from conftest import FIXTURES, read_results, run_cli

# `pg_waldump --stats` of one UPDATE of 5,000 rows after a CHECKPOINT (embedded 18, data checksums)
WALDUMP_STATS = """\
WAL statistics between 0/17B4290 and 0/18FD690:
Type                                           N      (%)          Record size      (%)             FPI size      (%)        Combined size      (%)
----                                           -      ---          -----------      ---             --------      ---        -------------      ---
XLOG                                          22 (  0.15)                 1078 (  0.10)               179520 ( 63.71)               180598 ( 13.53)
Transaction                                    1 (  0.01)                   34 (  0.00)                    0 (  0.00)                   34 (  0.00)
Heap                                       10000 ( 66.26)               669993 ( 63.65)                 1068 (  0.38)               671061 ( 50.29)
Btree                                       5070 ( 33.59)               381531 ( 36.25)               101172 ( 35.91)               482703 ( 36.17)
                                        --------                      --------                      --------                      --------
Total                                      15093                       1052636 [78.88%]               281760 [21.12%]              1334396 [100%]
"""


def test_pg_waldump_stats_give_the_fpi_bytes_of_their_total_line():
    assert waldump_fpi_bytes(WALDUMP_STATS) == 281760 == 179520 + 1068 + 101172
    with pytest.raises(ValueError):
        waldump_fpi_bytes("pg_waldump: error: could not find file \"000000010000000000000001\"")


@pytest.mark.parametrize("layers", [{"cli": ["--no-checkpoint"]}, {"environ": {"UPSERT_BENCH_CHECKPOINT": "0"}}])
def test_no_checkpoint_is_a_setting_like_the_others(layers):
    assert load_settings(environ={}).checkpoint is True  # the default: .env_dist's CHECKPOINT=1
    cli = run_flag_values(build_parser().parse_args(["run", *layers.get("cli", [])]))
    settings = load_settings(cli, environ=layers.get("environ", {}))
    assert settings.checkpoint is False and settings.raw["CHECKPOINT"] == "0"


def test_on_a_server_that_is_not_ours_the_bytes_are_not_read_and_no_extension_is_created(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        extensions = conn.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall()
        reader = FullPages(conn, Target("dsn", "dsn", pg_dsn, "public"))
        assert reader.how.startswith("not read: ") and "pg_walinspect is not installed" in reader.how
        assert reader.read("0/1000000", "0/2000000") is None
        assert conn.execute("SELECT extname FROM pg_extension ORDER BY 1").fetchall() == extensions


@pytest.mark.db
@pytest.mark.skipif(not local_versions(), reason="needs local PostgreSQL binaries with contrib's pg_walinspect "
                                                 "(Debian's postgresql-NN); the embedded wheel has none")
def test_pg_waldump_and_pg_walinspect_read_the_same_bytes():
    with Cluster(list(local_versions().values())[-1], "walinspect check") as cluster, \
            psycopg.connect(cluster.dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_walinspect'").fetchone() is None:
            pytest.skip("this local PostgreSQL has no pg_walinspect")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t SELECT g, 'x' FROM generate_series(1, 3000) g")
        conn.execute("CHECKPOINT")
        start = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        conn.execute("UPDATE t SET v = 'y'")
        end = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        details = {"data_dir": str(cluster.data_dir), "bin_dir": str(cluster.installed_bin_dir)}
        waldump = FullPages(conn, Target("local", "local", cluster.dsn, "public", details=details))
        walinspect = FullPages(conn, Target("docker", "docker", cluster.dsn, "public"))  # ours, WAL elsewhere
        assert waldump.how.startswith("pg_waldump") and walinspect.how.startswith("pg_walinspect")
        assert waldump.read(start, end) == walinspect.read(start, end) > 8192  # pages of t and its index


def _run(results, *flags):
    done = run_cli("run", "--items", "300", "--repeat", "1", "--no-memory", "--strategies-dir", str(FIXTURES),
                   "--strategies", "ok_copy", "--results-dir", str(results), *flags)
    assert done.returncode == 0, done.stdout + done.stderr
    folder, rows = read_results(results)
    logs = list(folder.glob("postgres-*.log"))
    assert len(logs) == 1, logs
    return folder, {row["phase"]: row for row in rows}, logs[0].read_text()


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One embedded run with the CHECKPOINT before every pass, and one with --no-checkpoint."""
    results = tmp_path_factory.mktemp("checkpoint")
    runs = {"with": _run(results / "with"), "without": _run(results / "without", "--no-checkpoint")}
    (results / "both").mkdir()  # both run folders in one results folder, for the analysis
    for folder, _, _ in runs.values():
        (results / "both" / folder.name).symlink_to(folder)
    return {**runs, "both": results / "both"}


FORCED = "checkpoint starting: immediate force wait"  # the server's log line for a CHECKPOINT command


@pytest.mark.slow  # two whole runs on embedded servers of their own
def test_after_a_checkpoint_an_update_pass_writes_full_page_images(both):
    folder, rows, log = both["with"]
    manifest = Manifest.load(folder)
    assert manifest.checkpoint_before_pass is True and manifest.config["CHECKPOINT"] == "1"
    assert manifest.servers[0].wal_fpi_bytes.startswith("pg_waldump --stats")
    assert all(row["checkpoint"] == "True" for row in rows.values())
    update = rows["update"]
    assert int(update["wal_fpi"]) > 0 and 0 < int(update["wal_fpi_bytes"]) < int(update["wal_bytes"])
    assert log.count(FORCED) == len(rows)  # one CHECKPOINT before each pass (no memory process)


@pytest.mark.slow  # two whole runs on embedded servers of their own
def test_no_checkpoint_issues_none_and_says_so_in_the_manifest_and_the_rows(both):
    folder, rows, log = both["without"]
    manifest = Manifest.load(folder)
    assert manifest.checkpoint_before_pass is False
    assert manifest.config["CHECKPOINT"] == "0" and manifest.config_sources["CHECKPOINT"] == "cli"
    assert all(row["checkpoint"] == "False" for row in rows.values())
    # the server logs every checkpoint (log_checkpoints, on by default since PostgreSQL 15): the
    # run's log holds the one at shutdown, and no CHECKPOINT command
    assert "checkpoint starting: shutdown" in log and FORCED not in log
    assert json.loads((folder / "manifest.json").read_text())["config"]["CHECKPOINT"] == "0"
    # the restored pages were already changed since the last checkpoint: few images, if any
    assert int(rows["update"]["wal_fpi_bytes"]) < int(both["with"][1]["update"]["wal_fpi_bytes"]) / 2


@pytest.mark.slow  # two whole runs on embedded servers of their own
def test_passes_with_and_without_a_checkpoint_are_never_pooled(both):
    # allow_mixed: a working tree that changed between the two runs makes them two lineages
    passes = load_runs(both["both"], warn=lambda line: None, allow_mixed=True).passes
    assert set(passes["variant"]) == {"default", "no-checkpoint"}
    table = aggregate(passes)
    update = table[table["phase"] == "update"].set_index("variant")
    assert len(update) == 2 and (update["n"] == 1).all()
    assert update.loc["default", "median_wal_fpi_bytes"] > update.loc["no-checkpoint", "median_wal_fpi_bytes"]
