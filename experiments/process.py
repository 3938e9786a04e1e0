"""Run one worker process: timeout, the child's own rusage, its output, its JSON result.

The child gets its own session (process group), so a timeout or Ctrl-C kills it and any threads
or grandchildren it started, and the terminal's Ctrl-C reaches only the runner, which then
cleans up in order. If the runner itself is killed (SIGKILL), the kernel kills the child too
(`die_with_parent`). `os.wait4` gives the child's own peak RSS (not the maximum over all
children, which `getrusage(RUSAGE_CHILDREN)` would give).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from experiments import MARKS_ENV


def child_env(dsn: str, **settings: str) -> dict[str, str]:
    """The environment of a harness child process: ours, the DSN (never argv), `settings` as
    `UPSERT_BENCH_<NAME>` (what a seed-style strategy's CONFIG reads) and the repository on
    PYTHONPATH, so `python -m experiments.*` imports from any working directory. The DSN is also
    in the conventional DATABASE_URL, for strategy code that reads that name itself."""
    from experiments import ENV_PREFIX, REPO_ROOT

    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    prefixed = {f"{ENV_PREFIX}{name}": value for name, value in dict(settings, DATABASE_URL=dsn).items()}
    return dict(os.environ, **prefixed, DATABASE_URL=dsn, PYTHONPATH=path)


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that has the kernel send `sig` to the child when the harness dies (Linux).

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process, so
    children are only started from the main thread (it lives as long as the process); a start
    from another thread is a programming error and raises. The child also checks that its
    parent is still the harness, which closes the race of a harness killed before the prctl."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("start harness children from the main thread: PR_SET_PDEATHSIG follows "
                           "the thread that started them")
    if sys.platform != "linux":
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec
        import ctypes

        PR_SET_PDEATHSIG = 1
        with suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:
            os._exit(1)

    return preexec


@dataclass(frozen=True)
class ProcessOutcome:
    returncode: int
    wall_s: float
    max_rss_mb: float
    timed_out: bool
    result: dict  # the worker's JSON line, {} when it wrote none
    output_tail: str  # last lines of its stdout+stderr

    @property
    def error(self) -> str:
        """One line saying why the pass failed, empty when the process reports success."""
        if self.timed_out:
            return "timeout"
        if self.result.get("error"):
            return self.result["error"]
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"killed by {name}" + (f": {self.last_line}" if self.last_line else "")
        if self.returncode != 0:
            return f"exit status {self.returncode}" + (f": {self.last_line}" if self.last_line else "")
        if "duration_s" not in self.result:
            return "worker wrote no result"
        return ""

    @property
    def peak_rss_mb(self) -> float:
        """The process's peak RSS: its own report (VmHWM) where it made one, else wait4's."""
        reported = self.result.get("peak_rss_mb")
        return round(reported if reported is not None else self.max_rss_mb, 3)

    @property
    def last_line(self) -> str:
        lines = [line for line in self.output_tail.splitlines() if line.strip()]
        return lines[-1].strip()[:300] if lines else ""


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _rss_mb(rusage) -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return rusage.ru_maxrss * scale / 1e6


class _MarkPipes:
    """The worker marks the start and the end of `main()` to the harness: it writes `start` (or
    `end`) and a newline on one pipe and blocks until the harness, having read what it needs
    (the server's CPU times), answers on the other; both outside the timed span (the worker's
    clock starts after the answer to `start` and stops before it writes `end`). The worker finds
    the two descriptors in MARKS_ENV and closes them after `end`. A worker that crashes, hangs
    (killed at its timeout) or leaves children holding a copy cannot hang the harness: it waits
    for the next mark with a deadline of a tenth of a second at a time and stops as soon as the
    worker has exited (`waitid` with WNOWAIT, which leaves the exit status to `wait4`)."""

    def __init__(self, env: dict[str, str]):
        self.from_worker, self.worker_writes = os.pipe()
        self.worker_reads, self.to_worker = os.pipe()
        self.worker_fds = (self.worker_writes, self.worker_reads)
        self.env = dict(env, **{MARKS_ENV: f"{self.worker_writes},{self.worker_reads}"})

    def serve(self, pid: int, on_mark: Callable[[str], None]) -> None:
        import select

        for fd in self.worker_fds:  # the worker's ends are the worker's: EOF once it closes them
            os.close(fd)
        self.worker_fds = ()
        pending = b""
        while True:
            ready, _, _ = select.select([self.from_worker], [], [], 0.1)
            if not ready:
                if _exited(pid):
                    return
                continue
            chunk = os.read(self.from_worker, 64)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                on_mark(line.decode("ascii", "replace"))
                try:
                    os.write(self.to_worker, b"go\n")
                except OSError:  # the worker is gone
                    return

    def close(self) -> None:
        for fd in (self.from_worker, self.to_worker, *self.worker_fds):
            with suppress(OSError):
                os.close(fd)


def alive(pid: int) -> bool:
    """Whether process `pid` exists (another user's counts too)."""
    try:  # reap it first if it is our own child that already exited (a zombie still "exists")
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exited(pid: int) -> bool:
    """The child has exited (its status stays there for wait4)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def run_worker(argv: list[str], env: dict[str, str], timeout_s: float, result_path: Path,
               output_path: Path, cwd: Path, on_mark: Callable[[str], None] | None = None) -> ProcessOutcome:
    """Run the worker to its end (or its timeout). With `on_mark`, the worker marks the start and
    the end of `main()` (`_MarkPipes`): `on_mark("start")` / `on_mark("end")` run here while the
    worker waits, before its clock starts and after it stopped."""
    result_path.unlink(missing_ok=True)
    pipes = _MarkPipes(env) if on_mark is not None else None
    try:
        with open(output_path, "wb") as output:
            started = time.perf_counter()
            child = subprocess.Popen(argv, env=pipes.env if pipes else env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent(signal.SIGKILL),
                                     pass_fds=pipes.worker_fds if pipes else ())
    except BaseException:
        if pipes:
            pipes.close()
        raise
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(child.pid)

    timer = threading.Timer(timeout_s, on_timeout)
    timer.daemon = True
    timer.start()
    try:
        if pipes:
            pipes.serve(child.pid, on_mark)  # until the worker closes its end or exits
        _, status, rusage = os.wait4(child.pid, 0)
    except BaseException:  # Ctrl-C / SIGTERM in the runner: take the child down with us
        _kill_group(child.pid)
        with suppress(ChildProcessError):
            os.waitpid(child.pid, 0)
        child.returncode = -signal.SIGKILL
        raise
    finally:
        timer.cancel()
        if pipes:
            pipes.close()
    wall_s = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(child.pid)  # threads or grandchildren the strategy left running
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        result = {}
    try:
        tail = output_path.read_bytes()[-4000:].decode("utf-8", "replace")
    except OSError:
        tail = ""
    return ProcessOutcome(child.returncode, wall_s, _rss_mb(rusage), timed_out.is_set(), result, tail)
