"""Published figure sets: `figures/<set>/` holds the figures, tables and REPORT.md of a set and,
in `figures/<set>/runs/`, the run folders they were drawn from, so that anyone can rebuild them.

- `publish(name, ...)` copies the chosen runs (results.csv, manifest.json, config.env, git.diff;
  logs gzipped) into the set and builds it; it refuses runs made with uncommitted changes, and
  of the runs chosen keeps the newest run's lineage only (analysis.load names the others), so a
  set is the work of one clean commit.
- A set may draw only some figure kinds (`--figures`, kept in its `set.json`): a sweep's story
  is its scaling figures, not ten figures per grid point; figures/ stays small.
- `rebuild_all()` rebuilds every set from its own runs: on a fresh clone the output is
  byte-identical to what is committed (`.ci/run` checks it).
- `make figures` also draws your own runs (RESULTS_DIR) into `figures/latest/` (not committed:
  publish a set to share it with its source data).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

from analysis.build import build
from analysis.figure_kinds import BY_NAME, current_names
from analysis.load import describe_lineage, lineage, load_runs
from analysis.run_folders import FIGURES_DIR, LATEST, published_sets  # noqa: F401 (LATEST re-exported)
from contract import REPO_ROOT
from contract.errors import UsageError

KEPT = ("results.csv", "manifest.json", "config.env", "git.diff")  # copied as they are
SET_FILE = "set.json"  # which figure kinds the set draws (a sweep needs no heatmaps per grid point)
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def set_kinds(folder: Path) -> list[str] | None:
    """The figure kinds a set draws (its set.json), None for every kind."""
    try:
        return json.loads((folder / SET_FILE).read_text()).get("figures")
    except (OSError, ValueError):
        return None


def rebuild_all(figures: Path = FIGURES_DIR, echo=print) -> list[Path]:
    written = []
    for folder in published_sets(figures):
        echo(f"rebuilding {folder.relative_to(figures.parent) if folder.is_relative_to(figures.parent) else folder}"
             f" from its {sum(1 for _ in (folder / 'runs').iterdir())} run(s)")
        written += build(folder / "runs", folder, echo=echo, kinds=set_kinds(folder), published=True)
    return written


def copy_run(source: Path, target: Path) -> None:
    """The files a rebuild and a reader need; logs gzipped (no timestamp: identical bytes)."""
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.name in KEPT:
            shutil.copyfile(path, target / path.name)
        elif path.suffix == ".log":
            with (open(path, "rb") as raw, open(target / (path.name + ".gz"), "wb") as out,
                  gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed):
                shutil.copyfileobj(raw, packed)


FOREIGN_LOAD_WARNING = 0.10  # share of a run's passes under foreign load that publish warns of


def _check_alone(run_id: str, manifest, passes: int, echo) -> None:
    """A run that ran beside another (--allow-concurrent) is refused; one with many passes under
    foreign load is named (REPORT.md's setup counts them too)."""
    concurrency = manifest.concurrency
    if concurrency is None:
        return
    if concurrency.allowed and concurrency.other_run:
        other = concurrency.other_run.get("run_id", "another run")
        raise UsageError(f"run {run_id} ran beside {other} (--allow-concurrent): its durations are not "
                         "comparable; re-run it alone, then publish")
    loaded = concurrency.passes_under_foreign_load or 0
    if passes and loaded > FOREIGN_LOAD_WARNING * passes:
        echo(f"warning: run {run_id}: {loaded} of {passes} passes ran under foreign load (other processes "
             "took more than 10% of a CPU core); REPORT.md says so, a quieter re-run would be better")


def publish(name: str, results_dir: Path, runs: str | None = None, figures: Path = FIGURES_DIR,
            echo=print, kinds: list[str] | None = None) -> list[Path]:
    if not NAME.fullmatch(name) or name == LATEST:
        raise UsageError(f"set name {name!r}: use lower-case letters, digits, - and _ (not {LATEST!r})")
    loaded = load_runs(results_dir, runs, warn=echo)
    for run_id, manifest in sorted(loaded.manifests.items()):
        if manifest.git.dirty or not manifest.git.commit:
            raise UsageError(f"run {run_id} ran with uncommitted changes ({describe_lineage(lineage(results_dir / run_id, manifest))}): "
                             "a published set comes from one clean commit; commit, re-run, publish")
        _check_alone(run_id, manifest, int((loaded.passes["run_id"] == run_id).sum()), echo)
    kinds = current_names(kinds)
    unknown = sorted(set(kinds or ()) - set(BY_NAME))
    if unknown:
        raise UsageError(f"--figures {', '.join(unknown)}: the kinds are {', '.join(BY_NAME)}")
    folder = figures / name
    shutil.rmtree(folder / "runs", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SET_FILE).write_text(json.dumps({"figures": kinds}, indent=2) + "\n")
    for run_id in sorted(loaded.manifests):
        copy_run(results_dir / run_id, folder / "runs" / run_id)
    echo(f"published {len(loaded.manifests)} run(s) into {folder}: {', '.join(sorted(loaded.manifests))}")
    return build(folder / "runs", folder, echo=echo, kinds=kinds, published=True)
