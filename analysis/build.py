"""`make figures`: every selected run into the `figures/` folder, reproducibly.

Writes the data the figures are drawn from (`passes.csv`, `aggregate.csv`, `correlation.csv`,
`significance.csv`, `manifest.json` listing the runs), one set of figures per configuration
(PNG 300 dpi + SVG) and `REPORT.md`. Files this command wrote before and would not write now
(a configuration no longer selected) are removed; nothing else in the folder is touched.
Running it twice on the same runs gives byte-identical files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from analysis import figures, scaling_figures
from analysis.scaling import growth, speedup
from analysis.aggregate import aggregate
from analysis.correlate import correlate
from analysis.load import CONFIG, Loaded, config_slug, configurations, load_runs
from analysis.report import build_report
from analysis.significance import significance

FIGURE_KINDS = ("duration", "memory", "floor_multiple", "wal_per_row", "zscores", "heatmap_insert",
                "heatmap_update", "versions", "speed_vs_code", "scaling_duration", "scaling_memory", "speedup")
GENERATED = re.compile(r"^(REPORT\.md|manifest\.json|(passes|aggregate|correlation|significance|growth|"
                       r"speedup)\.csv|(" + "|".join(FIGURE_KINDS) + r")_.+\.(png|svg))$")
CSV_OPTIONS = {"index": False, "float_format": "%.6g", "lineterminator": "\n"}


def _rows_of(table: pd.DataFrame, config: tuple) -> pd.DataFrame:
    if table.empty:
        return table
    return table[(table[CONFIG] == pd.Series(config, index=CONFIG)).all(axis=1)]


def _values(series: pd.Series, fmt=str) -> str:
    return ", ".join(fmt(v) for v in sorted(series.unique(), key=lambda v: (str(type(v)), v)))


def provenance(loaded: Loaded, passes: pd.DataFrame) -> str:
    """The small grey line on every figure: where its numbers come from."""
    run_ids = sorted(set(passes["run_id"]))
    manifests = [loaded.manifests.get(r, {}) for r in run_ids]
    commits = sorted({(m.get("git", {}).get("commit") or "unknown")[:7]
                      + ("+" if m.get("git", {}).get("dirty") else "") for m in manifests})
    dates = sorted({(m.get("started_at") or "")[:10] for m in manifests} - {""})
    repeats = passes.groupby(["strategy", "phase", "items", "threads", "pg_version"]).size().max()
    python = sorted({m.get("machine", {}).get("python", "?") for m in manifests})
    date_text = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}" if dates else "?"
    return (f"commit {', '.join(commits)} · PostgreSQL {_values(passes['pg_version'].astype(str))} "
            f"({_values(passes['backend'])}) · {_values(passes['items'], lambda v: f'{int(v):,}')} items · "
            f"{_values(passes['threads'], lambda v: str(int(v)))} threads · {repeats} repeats · "
            f"runs {date_text} ({len(run_ids)}) · {_values(passes['machine'])} · Python {', '.join(python)}")


def _scaling_figures(loaded, passes, aggregated, growths, speedups, out: Path, written: list) -> list[str]:
    """Duration and memory against items (per version, backend, machine, threads) and speed-up
    against threads (per version, backend, machine), where the runs span several of them."""
    names = []
    for key, part in aggregated.groupby(["pg_version", "backend", "machine", "threads"], sort=True):
        if part["items"].nunique() < 2:
            continue
        pg, backend, machine, threads = key
        rows = passes[(passes["pg_version"].astype(str) == str(pg)) & (passes["backend"] == backend)
                      & (passes["machine"] == machine) & (passes["threads"] == threads)]
        text = provenance(loaded, rows)
        fits = growths[(growths["pg_version"].astype(str) == str(pg)) & (growths["threads"] == threads)]
        slug = f"threads{int(threads)}_pg{pg}_{backend}"
        for metric, value, label in (("duration", "median_duration", "median duration per pass, seconds"),
                                     ("memory", "median_memory", "peak memory, MB (memray)")):
            fig = scaling_figures.versus_items(part, value, label, f"{metric} vs items", fits, metric, text)
            if fig is not None:
                written += figures.save(fig, out, f"scaling_{metric}_{slug}")
                names.append(f"scaling_{metric}_{slug}")
    for key, part in speedups.groupby(["pg_version", "backend", "machine"], sort=True) if not speedups.empty else []:
        pg, backend, machine = key
        rows = passes[(passes["pg_version"].astype(str) == str(pg)) & (passes["backend"] == backend)
                      & (passes["machine"] == machine) & passes["strategy"].isin(set(part["strategy"]))]
        text = provenance(loaded, rows)
        fig = scaling_figures.speedup_figure(part, text)
        if fig is not None:
            name = f"speedup_pg{pg}_{backend}"
            written += figures.save(fig, out, name)
            names.append(name)
    return names


def build(results_dir: Path, out: Path, runs: str | None = None, since: str | None = None,
          items: int | None = None, echo=print, sweep: str | None = None) -> list[Path]:
    loaded = load_runs(results_dir, runs, since, items, warn=echo, sweep=sweep)
    passes = loaded.passes.sort_values(["run_id", "server", "repeat", "order", "phase"]
                                       if "order" in loaded.passes else ["run_id", "repeat"],
                                       kind="stable").reset_index(drop=True)
    aggregated = aggregate(passes)
    pairs = significance(passes)
    correlations = correlate(aggregated)
    growths, speedups = growth(passes), speedup(passes)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and GENERATED.match(old.name):
            old.unlink()
    written = []
    tables = [("passes", passes), ("aggregate", aggregated), ("correlation", correlations),
              ("significance", pairs)]
    tables += [(name, t) for name, t in (("growth", growths), ("speedup", speedups)) if not t.empty]
    for name, table in tables:
        path = out / f"{name}.csv"
        table.to_csv(path, **CSV_OPTIONS)
        written.append(path)
    figures.setup_style()
    several_machines = passes["machine"].nunique() > 1
    by_config: dict[tuple, list[str]] = {}
    versions_figures: list[str] = []
    for number, config in enumerate(configurations(passes), start=1):
        slug = config_slug(config) + (f"_m{number}" if several_machines else "")
        text = provenance(loaded, _rows_of(passes, config))
        table = _rows_of(aggregated, config)
        names = []
        for kind, draw in figures.FIGURES.items():
            fig = draw(table, text)
            if fig is not None:
                written += figures.save(fig, out, f"{kind}_{slug}")
                names.append(f"{kind}_{slug}")
        fig = scaling_figures.speed_vs_code_figure(table, text)
        if fig is not None:
            written += figures.save(fig, out, f"speed_vs_code_{slug}")
            names.append(f"speed_vs_code_{slug}")
        for phase in ("insert", "update"):
            fig = figures.heatmap_figure(_rows_of(pairs, config), phase, text)
            if fig is not None:
                written += figures.save(fig, out, f"heatmap_{phase}_{slug}")
                names.append(f"heatmap_{phase}_{slug}")
        by_config[config] = names
    for key, part in aggregated.groupby(["items", "threads", "backend", "machine"], sort=True):
        if part["pg_version"].nunique() > 1:
            items, threads, backend, _ = key
            runs = passes[(passes["items"] == items) & (passes["threads"] == threads)
                          & (passes["backend"] == backend)]
            text = provenance(loaded, runs)
            fig = figures.versions_figure(part, text)
            if fig is not None:
                name = f"versions_items{int(items)}_threads{int(threads)}_{backend}"
                written += figures.save(fig, out, name)
                versions_figures.append(name)
    scaling_names = _scaling_figures(loaded, passes, aggregated, growths, speedups, out, written)
    selected = {r: m for r, m in sorted(loaded.manifests.items()) if r in set(passes["run_id"])}
    manifest = {
        "results_dir": str(results_dir.name),
        "runs": {run_id: {"started_at": m.get("started_at"), "commit": m.get("git", {}).get("commit"),
                          "dirty": m.get("git", {}).get("dirty")} for run_id, m in selected.items()},
        "configurations": [dict(zip(CONFIG, map(str, c))) for c in by_config],
        "skipped": loaded.skipped,
        "selection": {"runs": runs, "since": since, "items": items, "sweep": sweep},
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    written.append(path)
    path = out / "REPORT.md"
    path.write_text(build_report(selected, aggregated, pairs, by_config, versions_figures,
                                 scaling_names, growths) + "\n")
    written.append(path)
    return written
