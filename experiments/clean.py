"""`nox -s clean` / `make clean` / `python -m experiments clean [--dry-run]`.

Removes run folders under results/ (memray captures live inside them), and what a killed run
left behind: PostgreSQL servers still running (embedded or local binaries), their temporary data
folders (with the copy of the binaries root may make there), worker scratch folders, and Docker containers carrying
the project's label. Anything belonging to a run that is still alive (its harness process
exists) is left alone. Never touches figures/. The standard library is enough for everything
but the containers, which need the docker package and a reachable engine (else they are skipped).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from experiments import DOCKER_LABEL, OWNER_FILE, REPO_ROOT, SCRATCH_DIR_PREFIX, SERVER_DIR_PREFIX
from experiments.process import alive


def _owner_alive(folder: Path) -> bool:
    try:
        return alive(int((folder / OWNER_FILE).read_text().strip()))
    except (OSError, ValueError):
        return False


def leftover_folders(tmp: Path) -> tuple[list[Path], bool]:
    """Temporary folders of dead runs, and whether any run is alive right now."""
    dead, any_alive = [], False
    for prefix in (SERVER_DIR_PREFIX, SCRATCH_DIR_PREFIX):
        for folder in sorted(tmp.glob(prefix + "*")):
            if _owner_alive(folder):
                any_alive = True
            else:
                dead.append(folder)
    return dead, any_alive


def _command_lines() -> list[tuple[int, str]]:
    """(pid, command line) of every process: /proc on Linux, `ps` elsewhere."""
    proc = Path("/proc")
    if proc.is_dir() and (proc / "self" / "cmdline").exists():
        lines = []
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    raw = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                lines.append((int(entry.name), raw.replace(b"\0", b" ").decode(errors="replace")))
        return lines
    try:
        out = subprocess.run(["ps", "-axww", "-o", "pid=,command="], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    lines = []
    for line in out.stdout.splitlines():
        pid_text, _, command = line.strip().partition(" ")
        if pid_text.isdigit():
            lines.append((int(pid_text), command))
    return lines


def leftover_servers(tmp: Path) -> list[tuple[int, str]]:
    """(pid, data folder) of postmasters whose data lives in a dead run's folder."""
    pattern = re.compile(r"-D\s+(" + re.escape(str(tmp)) + "/" + SERVER_DIR_PREFIX + r"[^/\s]+)/data")
    servers = []
    for pid, command in _command_lines():
        match = pattern.search(command)
        if match and "postgres" in command and not _owner_alive(Path(match[1])):
            servers.append((pid, match[1]))
    return servers


def leftover_containers() -> tuple[list, str]:
    """Containers with the project's label, and a note when Docker could not be asked."""
    try:
        import docker  # noqa: F401
    except ImportError:
        return [], "docker package not installed: containers not checked"
    from contract.errors import UsageError
    from experiments.servers.docker import engine, ours

    try:
        return ours(engine(timeout=5).containers.list(all=True, filters={"label": DOCKER_LABEL})), ""
    except (UsageError, docker.errors.DockerException):  # no engine: nothing of ours can run in it
        return [], ""


def _stop(pid: int) -> None:
    for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.1)


def clean(results_dir: Path, dry_run: bool, echo=print, tmp: Path | None = None) -> int:
    """Remove (or with dry_run, list) everything; return how many things were found."""
    tmp = tmp or Path(tempfile.gettempdir())
    verb = "would remove" if dry_run else "removed"
    found = 0
    for pid, data in leftover_servers(tmp):
        found += 1
        echo(f"{'would stop' if dry_run else 'stopped'} leftover PostgreSQL server pid {pid} ({data})")
        if not dry_run:
            _stop(pid)
    containers, note = leftover_containers()
    for container in containers:
        found += 1
        run_id = (container.labels or {}).get(f"{DOCKER_LABEL}.run-id", "?")
        echo(f"{verb} container {container.name} (run {run_id})")
        if not dry_run:
            container.remove(force=True, v=True)
    if note:
        echo(note)
    folders, any_alive = leftover_folders(tmp)
    for folder in folders:
        found += 1
        echo(f"{verb} {folder}")
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
    runs = sorted(p for p in results_dir.iterdir() if p.is_dir()) if results_dir.is_dir() else []
    for run in runs:
        found += 1
        captures = list(run.glob("captures/*.bin"))
        extra = f" ({len(captures)} memray captures)" if captures else ""
        echo(f"{verb} run folder {run.relative_to(REPO_ROOT) if run.is_relative_to(REPO_ROOT) else run}{extra}")
        if not dry_run:
            shutil.rmtree(run, ignore_errors=True)
    if any_alive:
        echo("left alone: the folders of a run that is still going")
    if not found:
        echo("nothing to clean")
    return found
