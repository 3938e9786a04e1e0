"""A real PgBouncer (Debian's package) in front of the test session's server, for the pooler tests.

`pgbouncer(server_dsn, database, pool_mode=..., ignore=...)` starts one on a free loopback port
as an unprivileged user (`nobody` when the tests run as root: PgBouncer refuses root, and so
does PostgreSQL, whose socket is then `nobody`'s), with its files in a fresh folder under the
system's temporary directory (a user's 0700 home is not reachable by `nobody`), and yields the
DSN a client uses: `postgresql://postgres:<password>@127.0.0.1:<port>/<database>`. The server's
own password goes into PgBouncer's auth file, so clients authenticate with it (SCRAM) and
PgBouncer logs in to the server with it.

`.ci/run` installs the package; elsewhere the tests that need it skip, saying how to install it,
unless REQUIRE_PGBOUNCER=1 (CI) makes a missing PgBouncer a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def pgbouncer_binary() -> str:
    """The pgbouncer executable, or skip (fail under REQUIRE_PGBOUNCER=1)."""
    found = shutil.which("pgbouncer", path=SEARCH)
    if found:
        return found
    why = "PgBouncer is not installed (Debian: apt-get install pgbouncer; .ci/run installs it)"
    if os.environ.get("REQUIRE_PGBOUNCER") == "1":
        pytest.fail(why)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_parts(server_dsn: str) -> tuple[str, str, str]:
    """(user, password, socket folder) of the embedded server's DSN."""
    parts = urlsplit(server_dsn)
    host = parse_qs(parts.query)["host"][0]
    return parts.username, parts.password, host


@contextmanager
def pgbouncer(server_dsn: str, database: str, *, pool_mode: str = "session",
              ignore: tuple[str, ...] = (), pool_size: int = 20):
    """Yield the client DSN of a PgBouncer in `pool_mode` that forwards `database` to the server
    of `server_dsn`; `ignore` is its ignore_startup_parameters (default: none, PgBouncer's)."""
    binary = pgbouncer_binary()
    user, password, socket_dir = _server_parts(server_dsn)
    folder = Path(tempfile.mkdtemp(prefix="upsert-bench-pgbouncer-"))
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    settings = {
        "listen_addr": "127.0.0.1", "listen_port": str(port), "unix_socket_dir": "",
        "auth_type": "scram-sha-256", "auth_file": str(folder / "userlist.txt"),
        "pool_mode": pool_mode, "default_pool_size": str(pool_size), "max_client_conn": "500",
        "logfile": str(folder / "pgbouncer.log"), "pidfile": str(folder / "pgbouncer.pid"),
        "server_reset_query": "DISCARD ALL",
    }
    if ignore:
        settings["ignore_startup_parameters"] = ",".join(ignore)
    lines = ["[databases]", f"{database} = host={socket_dir} port=5432 dbname={database} user={user}",
             "", "[pgbouncer]", *(f"{name} = {value}" for name, value in settings.items())]
    (folder / "pgbouncer.ini").write_text("\n".join(lines) + "\n")
    argv = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses root; the server's socket belongs to nobody then
        nobody = pwd.getpwnam("nobody")
        for path in (folder, *folder.iterdir()):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        argv[1:1] = ["-u", "nobody"]
    folder.chmod(0o700)
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process, folder)
        yield f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen, folder: Path, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / "pgbouncer.log").read_text(errors="replace") if (folder / "pgbouncer.log").exists() else ""
            pytest.fail(f"pgbouncer exited {process.returncode}: {process.stdout.read().decode()} {log}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"pgbouncer did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")
