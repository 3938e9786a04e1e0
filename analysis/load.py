"""All run folders into one tidy DataFrame: one row per pass, with its configuration.

A configuration is what must never be averaged across: items, threads, PostgreSQL version,
backend, variant (contention mode, loopback TCP instead of the Unix socket, timed passes through
the relay, passes without a CHECKPOINT before them, non-default server settings, other rows in the tables, keys given twice in the input,
a mixed pass's share of existing keys: `VARIANT_PARTS`), machine (CPU model and count, memory) and the round-trip
time added to the timed passes (`latency_ms`, 0 in runs before it). Every table and figure groups
by it.
A results.csv that cannot be read is reported by name and skipped; runs can be picked by id
(or glob), by start date and by item count.

Runs are pooled only when they share a **lineage**: the same commit, the same uncommitted
changes (a dirty run's git.diff), the same Python minor version and the same lock file. Runs of
different lineages measure different code or packages (the lock resolves other SQLAlchemy and
pandas releases on other Pythons): unless `allow_mixed`, only the newest run's lineage is kept
and the others are named in one warning line each.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.run_folders import no_match, run_folders, select
from contract.errors import UsageError
from contract.manifest import Manifest
from contract.row import BOOL_COLUMNS, NUMERIC_COLUMNS, REQUIRED, TEXT_COLUMNS
from contract.workload import PHASES, Keys

CONFIG_COLUMNS = ["items", "threads", "pg_version", "backend", "variant", "machine", "latency_ms"]
COMPREHENSIBILITY = ["loc", "complexity", "apis", "raw_sql"]  # from the run's manifest
SHAPE_COLUMNS = ["phase", "table_rows", "duplicate_keys", "hit_ratio"]  # a pass's columns its variant reads


def ordered_phases(values) -> list[str]:
    """The phases among `values`, in contract.workload.PHASES order (insert, update, mixed,
    unchanged); any other after them, alphabetically."""
    present = set(values)
    return [p for p in PHASES if p in present] + sorted(present - set(PHASES))


def phase_key(series: pd.Series) -> pd.Series:
    """A sort key putting a column of phases in PHASES order (`sort_values(key=...)`); other
    columns pass unchanged."""
    if series.name != "phase":
        return series
    return series.map({p: i for i, p in enumerate(ordered_phases(series))})


@dataclass
class Loaded:
    passes: pd.DataFrame
    manifests: dict[str, Manifest]  # run id -> its manifest (contract.manifest)
    skipped: list[str] = field(default_factory=list)  # one line per unreadable or unpooled run


def known(value, unknown: str = "?"):
    """`value`, or '?' when the run did not record it."""
    return unknown if value is None else value


def lineage(folder: Path, manifest: Manifest) -> tuple[str, str, str]:
    """(commit[+diff hash], Python major.minor, lock hash) of a run: what must match to pool it."""
    commit = (manifest.git.commit or "unknown")[:12]
    if manifest.git.dirty:
        try:
            diff = (folder / "git.diff").read_bytes()
        except OSError:
            diff = folder.name.encode()  # unknown changes: pooled with nothing
        commit += "+" + hashlib.sha256(diff).hexdigest()[:8]
    python = ".".join(str(known(manifest.machine.python)).split(".")[:2])
    lock = (manifest.packages.lock_sha256 or "?")[:12]
    return commit, python, lock


def describe_lineage(key: tuple[str, str, str]) -> str:
    commit, python, lock = key
    return f"commit {commit}, Python {python}, lock {lock}"


def _setting(config: dict, name: str, default: str) -> str:
    return str(config.get(name, default))


def _number(value, default: float = 0.0) -> float:
    """A row's number, `default` where the run did not record it (older runs: blank or absent)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if number != number else number


DEFAULT_HIT_RATIO = Keys.hit_ratio  # contract.workload's default


def _tcp(config: dict, row: dict) -> str:
    """Loopback TCP to a cluster the run started (Docker is always TCP: not a variant there)."""
    started = row.get("backend") in ("embedded", "local")
    return "tcp" if _setting(config, "TRANSPORT", "socket") == "tcp" and started else ""


def _hit_ratio(config: dict, row: dict) -> str:
    """A mixed pass's share of existing keys, when not the default (other phases have none)."""
    ratio = _number(row.get("hit_ratio"), DEFAULT_HIT_RATIO)
    return f"hit_ratio={ratio:g}" if row.get("phase") == "mixed" and ratio != DEFAULT_HIT_RATIO else ""


# What else changes the numbers, in the order a variant label names them: (what, part), where
# part(the run's manifest config, one pass's row as a dict) is its piece of the label, '' at its
# default. Runs from before a part existed lack its key or column and read as its default, so
# their labels do not change. A new setting that changes the numbers gets one line here.
VARIANT_PARTS = (
    ("--contention", lambda config, row: "contention" if _setting(config, "CONTENTION", "0") == "1" else ""),
    ("--transport tcp", _tcp),
    ("--latency (the relay, 0 ms included)", lambda config, row: "relay" if row.get("via_relay") else ""),
    ("--no-checkpoint (or a server that refused CHECKPOINT)",
     lambda config, row: "" if row.get("checkpoint", True) else "no-checkpoint"),
    ("--pg-setting", lambda config, row: "+".join(filter(None, _setting(config, "PG_SETTINGS", "").split(";")))),
    ("--table-rows", lambda config, row: f"table_rows={_number(row.get('table_rows')):.0f}"
     if _number(row.get("table_rows")) else ""),
    ("--duplicate-keys", lambda config, row: f"duplicates={_number(row.get('duplicate_keys')):g}%"
     if _number(row.get("duplicate_keys")) else ""),
    ("--hit-ratio", _hit_ratio),
)


def variant_label(manifest: Manifest, backend: str = "", via_relay: bool = False, **row) -> str:
    """What else changes the numbers ('default' if nothing), VARIANT_PARTS joined by '+': e.g.
    `contention`, `tcp`, `relay`, `no-checkpoint`, `synchronous_commit=off`, `table_rows=2000`, `duplicates=10%`,
    `hit_ratio=0.3` (mixed passes only). `row`: the pass's other columns (`table_rows`,
    `duplicate_keys`, `hit_ratio`, `phase`, and `checkpoint`: False for a pass without one)."""
    values = {**row, "backend": backend, "via_relay": via_relay}
    return "+".join(p for _, part in VARIANT_PARTS if (p := part(manifest.config, values))) or "default"


def machine_label(manifest: Manifest) -> str:
    m = manifest.machine
    return f"{known(m.cpu_model)} x{known(m.cpu_count)}, {round(m.memory_gb or 0)} GB"


def as_bool(series: pd.Series) -> pd.Series:
    """True/False from a CSV column of booleans, '1'/'0' or blanks (blank = False)."""
    return series.map(lambda v: str(v).strip().lower() in ("true", "1")).astype(bool)


def _checkpointed(frame: pd.DataFrame, manifest: Manifest) -> list[bool]:
    """Did each pass start right after a CHECKPOINT? Its `checkpoint` cell; where there is none
    (runs before the column), the manifest's `checkpoint_before_pass`. No column is added for
    them: the passes.csv of the published sets stays as it was."""
    default = manifest.checkpoint_before_pass is not False
    cells = frame["checkpoint"] if "checkpoint" in frame else [None] * len(frame)
    return [default if pd.isna(cell) or str(cell).strip() == "" else str(cell).strip().lower() in ("true", "1")
            for cell in cells]


def _read_run(folder: Path) -> tuple[pd.DataFrame, Manifest]:
    manifest = Manifest.load(folder)  # no readable manifest.json: every section at its default
    try:
        frame = pd.read_csv(folder / "results.csv", dtype=dict.fromkeys(TEXT_COLUMNS, str))
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise ValueError(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {', '.join(missing)}")
    checkpoint = _checkpointed(frame, manifest)  # before blanks read as False
    for column in BOOL_COLUMNS:
        if column in frame:
            frame[column] = as_bool(frame[column])
    for column in NUMERIC_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="raise")
    if "reference" not in frame:
        frame["reference"] = False
    frame["pg_version"] = frame["pg_version"].str.split().str[0]  # older runs: "15.18 (Debian ...)"
    frame["machine"] = machine_label(manifest)
    # runs before --latency: no added latency, directly
    frame["latency_ms"] = frame["latency_ms"].fillna(0.0) if "latency_ms" in frame else 0.0
    frame["via_relay"] = frame["via_relay"] if "via_relay" in frame else False
    shape = [c for c in SHAPE_COLUMNS if c in frame]  # runs before the rows group have none
    records = frame[["backend", "via_relay", *shape]].to_dict("records")
    frame["variant"] = [variant_label(manifest, **values, checkpoint=bool(ckpt)) for values, ckpt in zip(records, checkpoint)]
    # a strategy's size as the run measured it (runs before it was recorded have none)
    measured = {s.name: s.comprehensibility for s in manifest.strategies}
    for column in COMPREHENSIBILITY:
        frame[column] = frame["strategy"].map(lambda name, c=column: getattr(measured.get(name), c, None))
    return frame, manifest


def load_runs(results_dir: Path, runs: str | None = None, since: str | None = None,
              items: int | None = None, warn=print, sweep: str | None = None,
              allow_mixed: bool = False) -> Loaded:
    folders = select(run_folders(results_dir), runs, since)
    frames, manifests, skipped, lineages = [], {}, [], {}
    for folder in folders:
        try:
            frame, manifest = _read_run(folder)
        except ValueError as error:
            line = f"skipping {folder / 'results.csv'}: {error}"
            skipped.append(line)
            warn(line)
            continue
        if frame.empty:
            continue
        frames.append(frame)
        manifests[folder.name] = manifest
        lineages[folder.name] = lineage(folder, manifest)
    if sweep:
        ids = sorted({m.sweep.id for m in manifests.values() if m.sweep} - {None})
        wanted = ids[-1] if sweep == "latest" and ids else sweep
        keep = {r for r, m in manifests.items() if m.sweep and m.sweep.id == wanted}
        frames = [f for f in frames if f["run_id"].iloc[0] in keep]
        manifests = {r: m for r, m in manifests.items() if r in keep}
        if not frames:
            raise UsageError(f"no runs of sweep {sweep!r} in {results_dir}"
                             + (f" (sweeps: {', '.join(ids)})" if ids else " (no sweep has run)"))
    if frames and not allow_mixed and len(set(lineages[r] for r in manifests)) > 1:
        newest = lineages[max(manifests)]
        for run_id in sorted(r for r in manifests if lineages[r] != newest):
            line = (f"not pooled: {run_id} ({describe_lineage(lineages[run_id])}) differs from the newest "
                    f"run's {describe_lineage(newest)}; pick runs with --runs, or pass --allow-mixed")
            skipped.append(line)
            warn(line)
        frames = [f for f in frames if lineages[f["run_id"].iloc[0]] == newest]
        manifests = {r: m for r, m in manifests.items() if lineages[r] == newest}
    if not frames:
        raise no_match(results_dir, runs, since)
    passes = pd.concat(frames, ignore_index=True)
    if items is not None:
        passes = passes[passes["items"] == items]
        if passes.empty:
            raise UsageError(f"no passes with --items {items} in the selected runs")
    passes["test"] = passes["strategy"] + "-" + passes["phase"]
    return Loaded(passes.reset_index(drop=True), manifests, skipped)


def configurations(passes: pd.DataFrame) -> list[tuple]:
    """The distinct configurations, in a stable order."""
    return sorted({tuple(row) for row in passes[CONFIG_COLUMNS].itertuples(index=False)},
                  key=lambda c: tuple(str(v) for v in c))


def config_label(config: tuple) -> str:
    items, threads, pg, backend, variant, machine, latency = config
    extra = "" if variant == "default" else f", {variant}"
    return (f"{int(items):,} items, {plural(str(int(threads)), 'thread')}, PostgreSQL {pg} ({backend}{extra})"
            f"{latency_text(latency)}, {machine}")


def plural(count: str, noun: str) -> str:
    """'1 thread', '4 threads', '3-5 repeats'."""
    return f"{count} {noun}" + ("" if count == "1" else "s")


def variant_slug(variant: str) -> str:
    """'' for the default variant, else '_' + the variant in file-name-safe characters."""
    return "" if variant == "default" else "_" + re.sub(r"[^A-Za-z0-9.]+", "-", variant).strip("-")


def config_slug(config: tuple) -> str:
    items, threads, pg, backend, variant, _, latency = config
    return f"items{int(items)}_threads{int(threads)}_pg{pg}_{backend}{variant_slug(variant)}{latency_slug(latency)}"


def latency_text(latency: float) -> str:
    """', 1 ms added round trip' in a configuration's headline; '' for none."""
    return f", {latency:g} ms added round trip" if latency else ""


def latency_slug(latency: float) -> str:
    """'_latency1ms' in a file name; '' for none."""
    return f"_latency{latency:g}ms" if latency else ""
