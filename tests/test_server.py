"""The embedded server's lifecycle: fresh, socket-only, stopped and removed on every exit path."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
import pytest

from experiments import REPO_ROOT, clean
from experiments.servers import ServerSpec, open_target
from experiments.process import die_with_parent
from experiments.servers.cluster import Cluster, parse_version
from experiments.servers.local import bin_dir
from experiments.servers.embedded import embedded_versions, newest_embedded

pytestmark = pytest.mark.db  # every test here starts a PostgreSQL server


def postmasters(data_dir: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"])
            if data_dir in " ".join(p.info["cmdline"] or []) and "postgres" in " ".join(p.info["cmdline"] or [])]


def test_both_embedded_versions_ship():
    assert {"16", "18"} <= set(embedded_versions())
    assert newest_embedded() == max(embedded_versions(), key=int)


@pytest.mark.parametrize("version", ["16", "18"])
def test_embedded_server_runs_and_leaves_nothing(version):
    with open_target(ServerSpec("embedded", version), run_id="t") as target:
        data_dir = target.details["data_dir"]
        assert target.server_version.startswith(version + ".")
        with psycopg.connect(target.dsn) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""  # no TCP
            assert conn.execute("SHOW data_directory").fetchone()[0] == data_dir
        assert postmasters(data_dir)
    assert postmasters(data_dir) == []
    assert not Path(data_dir).parent.exists()


def test_exception_inside_stops_and_removes_server():
    with pytest.raises(RuntimeError, match="on purpose"):
        with open_target(ServerSpec("embedded", newest_embedded()), run_id="t") as target:
            data_dir = target.details["data_dir"]
            raise RuntimeError("on purpose")
    assert postmasters(data_dir) == []
    assert not Path(data_dir).parent.exists()


@pytest.fixture
def private_tmp(monkeypatch):
    """A temporary root of our own (traversable by 'nobody' when we are root). Tests using it
    must not also use tmp_path, which pytest would then create inside it."""
    folder = Path(tempfile.mkdtemp(prefix="clean-test-", dir="/tmp"))
    folder.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def test_clean_stops_servers_of_dead_runs_and_removes_their_folders(private_tmp):
    cluster = Cluster(embedded_versions()[newest_embedded()], "test server")
    cluster.start()
    try:
        data_dir = str(cluster.data_dir)
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        (cluster.root / "harness.pid").write_text(dead)  # as if the run was SIGKILLed
        results = private_tmp / "results"
        (results / "20200101-000000-abcd").mkdir(parents=True)
        lines = []
        assert clean.clean(results, dry_run=True, echo=lines.append, tmp=private_tmp) == 3
        assert postmasters(data_dir) and Path(data_dir).exists()  # dry run removed nothing
        assert any("would stop leftover PostgreSQL server" in line for line in lines)
        clean.clean(results, dry_run=False, echo=lines.append, tmp=private_tmp)
        assert postmasters(data_dir) == []
        assert not Path(data_dir).exists()
        assert list(results.iterdir()) == []
    finally:
        cluster.stop()


def test_clean_leaves_a_live_run_alone(private_tmp):
    with Cluster(embedded_versions()[newest_embedded()], "live server") as cluster:
        lines = []
        clean.clean(private_tmp / "results", dry_run=False, echo=lines.append, tmp=private_tmp)
        assert postmasters(str(cluster.data_dir)) and cluster.data_dir.exists()
        assert any("still going" in line for line in lines)


def test_serve_killed_hard_leaves_only_what_clean_removes(private_tmp):
    env = dict(os.environ, TMPDIR=str(private_tmp))
    serve = subprocess.Popen([sys.executable, "-m", "experiments", "serve"], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in serve.stdout:
            if line.startswith("export UPSERT_BENCH_DATABASE_URL="):
                break
        dsn = line.split("=", 1)[1].strip().strip("'")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone()[0] == 0
        serve.kill()  # SIGKILL: no cleanup code runs in the harness
        serve.wait()
        leftovers = list(private_tmp.glob("upsert-bench-pg-*"))
        assert len(leftovers) == 1
        deadline = time.monotonic() + 30  # Linux: the server got SIGINT when its parent died
        while postmasters(str(leftovers[0])) and time.monotonic() < deadline and sys.platform == "linux":
            time.sleep(0.1)
        clean.clean(private_tmp / "no-results", dry_run=False, echo=lambda _: None, tmp=private_tmp)
        assert postmasters(str(leftovers[0])) == []
        assert list(private_tmp.glob("upsert-bench-pg-*")) == []
    finally:
        if serve.poll() is None:
            serve.kill()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root runs the server as another user ('nobody')")
def test_root_runs_binaries_that_nobody_cannot_reach(private_tmp):
    """A clone in a 0700 folder (a home directory), run as root: the binaries are copied into
    the cluster's own folder, which only root can write, and go with it. Nothing is left in the
    temporary folder, and `clean` finds exactly the server and its folder (issue 10)."""
    import shutil

    hidden = private_tmp / "root-only"
    install = embedded_versions()[newest_embedded()].parent
    package = install.parent  # the wheel's layout: package/pginstallNN/bin + package.libs
    shutil.copytree(package.parent / f"{package.name}.libs", hidden / f"{package.name}.libs")
    shutil.copytree(install, hidden / package.name / install.name, symlinks=True)
    hidden.chmod(0o700)  # like a clone under /root: 'nobody' cannot traverse it
    planted = private_tmp / "upsert-bench-pgbin-0123456789ab"  # where older versions looked
    planted.mkdir()
    cluster = Cluster(hidden / package.name / install.name / "bin", "hidden binaries")
    cluster.start()
    try:
        assert cluster.account is not None and cluster.account.pw_name == "nobody"
        assert cluster.bin_dir.is_relative_to(cluster.root)  # a private copy, not a shared cache
        for path in [cluster.root, *cluster.bin_dir.parent.parent.parent.rglob("*")]:
            info = path.lstat()
            assert info.st_uid == 0 and not info.st_mode & 0o022, path  # nobody cannot plant a binary
        with psycopg.connect(cluster.dsn) as conn:
            assert conn.execute("SELECT current_setting('data_directory')").fetchone()[0] == str(cluster.data_dir)
        assert psutil.Process(cluster.process.pid).username() == "nobody"
        assert psutil.Process(cluster.process.pid).exe().startswith(str(cluster.root))
        (cluster.root / "harness.pid").write_text("999999999")  # as if the run was SIGKILLed
        assert clean.clean(private_tmp / "results", dry_run=True, echo=lambda _: None, tmp=private_tmp) == 2
    finally:
        cluster.stop()
    assert sorted(p.name for p in private_tmp.iterdir()) == ["root-only", planted.name]


def test_a_started_server_asks_for_its_password():
    """No trust authentication: a local process without the run's password cannot connect."""
    with open_target(ServerSpec("embedded", newest_embedded()), run_id="t") as target:
        parts = urlsplit(target.dsn)
        assert parts.password and len(parts.password) >= 20
        without = urlunsplit(parts._replace(netloc=f"{parts.username}@"))
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without, connect_timeout=5)
        wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:wrong@"))
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5)
        with psycopg.connect(target.dsn) as conn:
            method = conn.execute("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'local'").fetchone()[0]
        assert method == "scram-sha-256"
        assert target.details["authentication"] == "scram-sha-256"


@pytest.mark.parametrize("text, version", [
    ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", "15.18"),
    ("postgres (PostgreSQL) 18.1\n", "18.1"),
    ("postgres (PostgreSQL) 17beta1\n", "17beta1"),
    ("postgres (PostgreSQL) 16.4 (Homebrew)\n", "16.4"),
    ("something else\n", None),
])
def test_version_is_the_number_not_the_packagers_last_word(text, version):
    assert parse_version(text) == version


def test_local_binaries_label_is_the_bare_version(tmp_path):
    """`--pg-bin` with a Debian-style `postgres --version` gives 15.18, not '15.18-0+deb12u1)'."""
    for name in ("postgres", "initdb"):
        script = tmp_path / name
        script.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'\n")
        script.chmod(0o755)
    assert bin_dir(explicit=str(tmp_path)) == (tmp_path, "15.18")


def test_children_are_only_started_from_the_main_thread():
    """PR_SET_PDEATHSIG follows the thread that forked: a server or worker started from a thread
    that ends would be killed with it, or outlive a killed harness."""
    outcome = {}

    def start():
        try:
            die_with_parent(signal.SIGINT)
        except RuntimeError as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert "main thread" in outcome["error"]
    assert die_with_parent(signal.SIGINT) is not None or sys.platform != "linux"
