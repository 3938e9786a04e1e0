"""Which run folders (and published sets) a command reads, found without pandas: a wrong folder or pattern is told in
one line before the analysis libraries (pandas, seaborn, scipy: seconds to import) are loaded."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from contract import REPO_ROOT
from contract.errors import UsageError

FIGURES_DIR = REPO_ROOT / "figures"  # the published sets, one folder each, and latest/
LATEST = "latest"


def run_folders(results_dir: Path) -> list[Path]:
    """Every run folder (one holding results.csv) under `results_dir`, oldest first."""
    if not results_dir.is_dir():
        raise UsageError(f"no results folder {results_dir}: run `make bench` first")
    folders = sorted(p for p in results_dir.iterdir() if (p / "results.csv").exists())
    if not folders:
        raise UsageError(f"no runs in {results_dir}: run `make bench` first")
    return folders


def has_runs(results_dir: Path) -> bool:
    return results_dir.is_dir() and any((p / "results.csv").exists() for p in results_dir.iterdir())


def published_sets(figures: Path = FIGURES_DIR) -> list[Path]:
    """Every set folder under `figures` that carries its runs."""
    return sorted(p.parent for p in figures.glob("*/runs") if p.is_dir())


def select(folders: list[Path], runs: str | None, since: str | None) -> list[Path]:
    """The folders whose run id matches one of `runs` (ids or globs, comma-separated) and starts on
    or after `since` (a date or a run id)."""
    if runs:
        patterns = [p.strip() for p in runs.split(",") if p.strip()]
        folders = [f for f in folders if any(fnmatch.fnmatch(f.name, p) for p in patterns)]
    if since:
        stamp = since.replace("-", "")  # run ids start with YYYYMMDD-HHMMSS
        folders = [f for f in folders if f.name.replace("-", "") >= stamp]
    return folders


def no_match(results_dir: Path, runs: str | None, since: str | None) -> UsageError:
    return UsageError(f"no readable runs in {results_dir} match"
                      + (f" --runs {runs}" if runs else "") + (f" --since {since}" if since else ""))


def selected_folders(results_dir: Path, runs: str | None = None, since: str | None = None) -> list[Path]:
    """`select` over `run_folders`, refusing an empty selection."""
    folders = select(run_folders(results_dir), runs, since)
    if not folders:
        raise no_match(results_dir, runs, since)
    return folders
