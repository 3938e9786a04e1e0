"""A run folder `results/<run_id>/`: what a run writes, each file the moment it is known.

- `results.csv`: one row per strategy x phase x repeat (`contract.row.PassRow`), appended
  in one write and fsynced as each pass finishes, so an interrupted run keeps every finished row
  (and a full disk cannot leave half a row: the file is cut back to its last whole row);
- `config.env`: the effective settings as `.env` lines (secrets redacted), each with its source;
- `git.diff`: commit, branch, status and the diff of the working tree, untracked files listed;
- `manifest.json`: the environment (see `manifest.py`);
- `run.log`: everything the runner did, with the output of failed workers;
- `postgres-<version>.log`: the server's own log; `captures/`: memray files, only if kept.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import secrets
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from contract.errors import UsageError
from contract.row import COLUMNS, PassRow
from experiments import REPO_ROOT


def new_run_id() -> str:
    """Sortable by time (UTC, to the second) and unique (a random suffix)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class RunFolderError(Exception):
    """The run folder cannot be written (disk full, read-only, gone): one line, the run stops."""


def check_results_dir(results_dir: Path) -> None:
    """Refuse, in one line, a results folder that cannot be created or written, before any
    server starts (the run folder itself is only made once the server is up)."""
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the results folder {results_dir}: "
                         f"{error.strerror or error}") from None
    if not os.access(results_dir, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into the results folder {results_dir}: permission denied")


class RunFolder:
    def __init__(self, results_dir: Path, run_id: str | None = None):
        self.run_id = run_id or new_run_id()
        self.path = results_dir / self.run_id
        self.rows = 0
        self._csv_path = self.path / "results.csv"
        try:
            self.path.mkdir(parents=True, exist_ok=False)
            # unbuffered: every row goes to the file in one write() of its own (see append)
            self._csv_file = open(self._csv_path, "wb", buffering=0)
        except OSError as error:
            raise RunFolderError(f"cannot create the run folder {self.path}: {error.strerror or error}") from None
        self._write_line(COLUMNS)

    @property
    def captures(self) -> Path:
        folder = self.path / "captures"
        folder.mkdir(exist_ok=True)
        return folder

    def _write_line(self, values: list) -> None:
        """One CSV line, written whole and fsynced, or not at all: on a failed or short write
        (disk full) the file is cut back to its last complete row before the error is raised,
        so every row already in it stays intact and readable."""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        data = buffer.getvalue().encode("utf-8")
        good = self._csv_file.tell()
        try:
            if self._csv_file.write(data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._csv_file.fileno())
        except OSError as error:
            with suppress(OSError):
                os.ftruncate(self._csv_file.fileno(), good)
                self._csv_file.seek(good)
            raise RunFolderError(f"cannot write {self._csv_path}: {error.strerror or error}") from None

    def append(self, row: PassRow) -> None:
        self._write_line(row.csv_values())
        self.rows += 1

    def close(self) -> None:
        if not self._csv_file.closed:
            self._csv_file.close()

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise RunFolderError(f"cannot write {path}: {error.strerror or error}") from None
        return path

    def write_json(self, name: str, data: dict) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout if out.returncode == 0 else ""


def git_state() -> dict:
    return {
        "commit": _git("rev-parse", "HEAD").strip() or None,
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD").strip() or None,
        "dirty": bool(_git("status", "--porcelain").strip()),
    }


def git_diff_text() -> str:
    state = git_state()
    if state["commit"] is None:
        return "# not a git checkout (or no commit yet): nothing to diff against\n"
    untracked = _git("ls-files", "--others", "--exclude-standard").splitlines()
    lines = [
        f"# commit: {state['commit']}",
        f"# branch: {state['branch']}",
        f"# working tree: {'modified' if state['dirty'] else 'clean'}",
        f"# untracked files: {len(untracked)}",
        *[f"#   {name}" for name in untracked],
        "",
    ]
    return "\n".join(lines) + _git("diff", "HEAD", "--no-color")
