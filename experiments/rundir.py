"""A run folder `results/<run_id>/`: what a run writes, each file the moment it is known.

- `results.csv`: one row per strategy x phase x repeat (the **contract** in DESIGN.md), appended,
  flushed and fsynced as each pass finishes, so an interrupted run keeps every finished row;
- `config.env`: the effective settings as `.env` lines (secrets redacted), each with its source;
- `git.diff`: commit, branch, status and the diff of the working tree, untracked files listed;
- `manifest.json`: the environment (see `manifest.py`);
- `run.log`: everything the runner did, with the output of failed workers;
- `postgres-<version>.log`: the server's own log; `captures/`: memray files, only if kept.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import subprocess
import time
from pathlib import Path

from experiments import REPO_ROOT

COLUMNS = [
    # the contract (DESIGN.md), in its order
    "run_id", "strategy", "phase", "repeat", "items", "threads", "backend", "pg_version",
    "duration_s", "wall_s", "peak_memory_mb", "allocations", "max_rss_mb", "users", "addresses",
    "counts_ok", "values_ok", "success", "error", "wal_bytes", "table_bytes", "dead_tuples",
    "hot_updates",
    # additions
    "test",  # <strategy>-<phase>, the original's name for a row
    "connections",  # connections the timed process opened (pg_stat_database.sessions)
    "statements",  # statements it ran (pg_stat_statements, when preloaded; else empty)
    "library", "technique", "reference",
    "memory_duration_s",  # main()'s duration inside the memray-tracked process
    "memory_max_rss_mb",  # that process's peak RSS (memray's own overhead included)
    "order", "seed", "server", "started_at",
    "error_kind",  # unique_violation, deadlock, serialization_failure, timeout, wrong_values, other
    # contention mode (--contention), update pass only
    "contention", "contender_rows", "contender_retries", "contender_errors",
    "rows_won_by_contender", "torn_rows",
]


def new_run_id() -> str:
    """Sortable by time (UTC, to the second) and unique (a random suffix)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class RunFolder:
    def __init__(self, results_dir: Path, run_id: str | None = None):
        self.run_id = run_id or new_run_id()
        self.path = results_dir / self.run_id
        self.path.mkdir(parents=True, exist_ok=False)
        self.rows = 0
        self._csv_file = open(self.path / "results.csv", "w", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=COLUMNS, extrasaction="raise")
        self._csv.writeheader()
        self._sync()

    @property
    def captures(self) -> Path:
        folder = self.path / "captures"
        folder.mkdir(exist_ok=True)
        return folder

    def _sync(self) -> None:
        self._csv_file.flush()
        os.fsync(self._csv_file.fileno())

    def append(self, row: dict) -> None:
        self._csv.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
        self._sync()
        self.rows += 1

    def close(self) -> None:
        if not self._csv_file.closed:
            self._csv_file.close()

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        path.write_text(text, encoding="utf-8")
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
