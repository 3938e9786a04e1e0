"""One benchmark at a time: the machine-wide lock a run holds from before its first server
starts until it ends (`Runner.run`; a sweep holds it across all its grid points).

Two runs on one machine share its cores, caches and disk, and both would finish with ordinary
summaries and meaningless numbers. So a run takes an exclusive `fcntl.flock` on one file; a
second run that finds it held stops at once with one line (`UsageError`: exit status 2) naming
the first (its run id, pid, since when) and how to override (`--allow-concurrent`).

Where: `/tmp/upsert-bench.lock`, a fixed path, not `tempfile.gettempdir()`: TMPDIR differs
between users, shells, `sudo` and CI or nox sessions, and a lock each run looks for in another
folder would not be machine-wide. `/tmp` exists on every POSIX system (where it does not,
`gettempdir()`). `UPSERT_BENCH_LOCK_FILE` names another file: the test suite gives each of its
sessions one of its own (docs/development.md says why).

Shared by every user: created world-writable (mode 0666 set with fchmod, whatever the umask) so
that another account's run can open it and record itself. It is opened without O_CREAT when it
exists (Linux's fs.protected_regular refuses O_CREAT on another user's file in sticky /tmp), with
O_NOFOLLOW (a symlink planted in /tmp cannot redirect our write), and read-only when it is not
writable for us: flock needs no write access, only the holder's record is then not written.

No stale lock: a flock belongs to the open file; the kernel releases it when the process that
holds it dies, however it dies (SIGKILL included; tests/test_one_run_at_a_time.py checks it). The
file itself stays, with the last holder's record, which is read only while someone holds the
lock. The descriptor is not inherited (O_CLOEXEC): servers and workers never hold the lock.

Re-entrant within a process: a sweep takes it once and every grid point's `Runner` enters again
(a count); the record then names the grid point's run. With `--allow-concurrent` no lock is
taken: the run only looks (a shared lock tried and released at once) whether another run holds
it, and the manifest records that and who it was (`contract.manifest.Concurrency`).
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import json
import os
import shlex
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path

from contract import ENV_PREFIX
from contract.errors import UsageError
from experiments.process import alive

LOCK_FILE_ENV = ENV_PREFIX + "LOCK_FILE"
LOCK_NAME = "upsert-bench.lock"
RETRY_S = 0.3  # a run that only looks (--allow-concurrent) holds a shared lock for microseconds

_held: dict = {"fd": None, "depth": 0, "record": {}}  # this process's hold (re-entrant)


def lock_path() -> Path:
    """The machine's lock file: `UPSERT_BENCH_LOCK_FILE`, else /tmp/upsert-bench.lock."""
    if os.environ.get(LOCK_FILE_ENV):
        return Path(os.environ[LOCK_FILE_ENV])
    folder = Path("/tmp")
    return (folder if folder.is_dir() else Path(tempfile.gettempdir())) / LOCK_NAME


def _open(path: Path) -> tuple[int, bool]:
    """(descriptor, writable) of the lock file, created world-writable when missing."""
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        try:
            return os.open(path, os.O_RDWR | flags), True
        except PermissionError:
            return os.open(path, os.O_RDONLY | flags), False
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | flags, 0o666)
        except FileExistsError:
            continue  # another run created it meanwhile: open it as it is
        with suppress(OSError):
            os.fchmod(fd, 0o666)
        return fd, True


def _flock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def read_holder(path: Path) -> dict:
    """The record the holder wrote ({} when unreadable or being written)."""
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _holder_now(path: Path) -> dict:
    """The holder's record, waiting a moment for a holder that has not written it yet."""
    record = read_holder(path)
    for _ in range(5):
        pid = record.get("pid")
        if isinstance(pid, int) and alive(pid):
            break
        time.sleep(0.05)
        record = read_holder(path)
    return record


def describe(record: dict) -> str:
    """`run <id> (pid <pid>, user <u>, since <time>)`, or what is known of it."""
    if not record:
        return "a run whose record cannot be read"
    command = record.get("command", "")
    command = command if len(command) <= 120 else command[:117] + "..."
    return (f"run {record.get('run_id', '?')} (pid {record.get('pid', '?')}, user {record.get('user', '?')}, "
            f"since {record.get('started_at', '?')}" + (f": {command}" if command else "") + ")")


def _record(run_id: str) -> dict:
    try:
        user = getpass.getuser()
    except Exception:  # no name for our uid (a container)
        user = str(os.getuid())
    argv = list(sys.argv)
    if argv and argv[0].endswith("__main__.py"):  # `python -m experiments ...`, as it was typed
        argv[:1] = ["-m", Path(argv[0]).parent.name]
    return {"run_id": run_id, "pid": os.getpid(), "user": user,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join([os.path.basename(sys.executable), *argv])}


def _write(fd: int, record: dict) -> None:
    with suppress(OSError):  # read-only (another user's file) or a full disk: the lock still holds
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)


@contextmanager
def one_run_at_a_time(run_id: str, allow_concurrent: bool = False):
    """Hold the machine's lock for the block (re-entrant), or with `allow_concurrent` only look.
    Yields what the manifest records: {lock_file, allowed, held, other_run (the holder's record
    when another run held the lock at the start, else None)}. Raises UsageError (one line) when
    another run holds it and `allow_concurrent` is off."""
    path = lock_path()
    if _held["fd"] is not None:  # a sweep's grid point: the sweep holds it already
        _held["depth"] += 1
        _held["record"] = dict(_held["record"], run_id=run_id)
        _write(_held["fd"], _held["record"])
        try:
            yield {"lock_file": str(path), "allowed": allow_concurrent, "held": True, "other_run": None}
        finally:
            _held["depth"] -= 1
        return
    try:
        fd, writable = _open(path)
    except OSError as error:
        raise UsageError(f"cannot open the one-run-at-a-time lock {path}: {error.strerror}; pass "
                         "--allow-concurrent to run without it") from None
    try:
        if allow_concurrent:
            free = _flock(fd, fcntl.LOCK_SH)
            if free:
                fcntl.flock(fd, fcntl.LOCK_UN)
            yield {"lock_file": str(path), "allowed": True, "held": False,
                   "other_run": None if free else (_holder_now(path) or {"run_id": None})}
            return
        deadline = time.monotonic() + RETRY_S
        while not _flock(fd, fcntl.LOCK_EX):
            if time.monotonic() > deadline:
                raise UsageError(
                    f"another benchmark run is in progress on this machine: {describe(_holder_now(path))}; "
                    "two runs at once make both sets of numbers meaningless: wait for it to end, or "
                    f"pass --allow-concurrent (ALLOW_CONCURRENT=1) to run anyway, recorded as such "
                    f"(lock {path})")
            time.sleep(0.05)
        _held.update(fd=fd, depth=1, record=_record(run_id))
        if writable:
            _write(fd, _held["record"])
        try:
            yield {"lock_file": str(path), "allowed": False, "held": True, "other_run": None}
        finally:
            _held.update(fd=None, depth=0, record={})
    finally:
        os.close(fd)  # releases the flock
