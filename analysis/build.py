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

from analysis import figures
from analysis.aggregate import aggregate
from analysis.correlate import correlate
from analysis.load import CONFIG, Loaded, config_slug, configurations, load_runs
from analysis.report import build_report
from analysis.significance import significance

GENERATED = re.compile(r"^(REPORT\.md|manifest\.json|passes\.csv|aggregate\.csv|correlation\.csv|"
                       r"significance\.csv|(duration|memory|floor_multiple|zscores|heatmap_insert|"
                       r"heatmap_update)_.+\.(png|svg))$")
CSV_OPTIONS = {"index": False, "float_format": "%.6g", "lineterminator": "\n"}


def _rows_of(table: pd.DataFrame, config: tuple) -> pd.DataFrame:
    if table.empty:
        return table
    return table[(table[CONFIG] == pd.Series(config, index=CONFIG)).all(axis=1)]


def provenance(loaded: Loaded, passes: pd.DataFrame, config: tuple) -> str:
    run_ids = sorted(set(passes["run_id"]))
    manifests = [loaded.manifests.get(r, {}) for r in run_ids]
    commits = sorted({(m.get("git", {}).get("commit") or "unknown")[:7]
                      + ("+" if m.get("git", {}).get("dirty") else "") for m in manifests})
    dates = sorted({(m.get("started_at") or "")[:10] for m in manifests} - {""})
    repeats = passes.groupby(["strategy", "phase"]).size().max()
    python = sorted({m.get("machine", {}).get("python", "?") for m in manifests})
    items, threads, pg, backend, machine = config
    date_text = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}" if dates else "?"
    return (f"commit {', '.join(commits)} · PostgreSQL {pg} ({backend}) · {int(items):,} items · "
            f"{int(threads)} threads · {repeats} repeats · runs {date_text} ({len(run_ids)}) · "
            f"{machine} · Python {', '.join(python)}")


def build(results_dir: Path, out: Path, runs: str | None = None, since: str | None = None,
          items: int | None = None, echo=print) -> list[Path]:
    loaded = load_runs(results_dir, runs, since, items, warn=echo)
    passes = loaded.passes.sort_values(["run_id", "server", "repeat", "order", "phase"]
                                       if "order" in loaded.passes else ["run_id", "repeat"],
                                       kind="stable").reset_index(drop=True)
    aggregated = aggregate(passes)
    pairs = significance(passes)
    correlations = correlate(aggregated)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and GENERATED.match(old.name):
            old.unlink()
    written = []
    for name, table in (("passes", passes), ("aggregate", aggregated), ("correlation", correlations),
                        ("significance", pairs)):
        path = out / f"{name}.csv"
        table.to_csv(path, **CSV_OPTIONS)
        written.append(path)
    figures.setup_style()
    several_machines = passes["machine"].nunique() > 1
    by_config: dict[tuple, list[str]] = {}
    for number, config in enumerate(configurations(passes), start=1):
        slug = config_slug(config) + (f"_m{number}" if several_machines else "")
        text = provenance(loaded, _rows_of(passes, config), config)
        table = _rows_of(aggregated, config)
        names = []
        for kind, draw in figures.FIGURES.items():
            fig = draw(table, text)
            if fig is not None:
                written += figures.save(fig, out, f"{kind}_{slug}")
                names.append(f"{kind}_{slug}")
        for phase in ("insert", "update"):
            fig = figures.heatmap_figure(_rows_of(pairs, config), phase, text)
            if fig is not None:
                written += figures.save(fig, out, f"heatmap_{phase}_{slug}")
                names.append(f"heatmap_{phase}_{slug}")
        by_config[config] = names
    selected = {r: m for r, m in sorted(loaded.manifests.items()) if r in set(passes["run_id"])}
    manifest = {
        "results_dir": str(results_dir.name),
        "runs": {run_id: {"started_at": m.get("started_at"), "commit": m.get("git", {}).get("commit"),
                          "dirty": m.get("git", {}).get("dirty")} for run_id, m in selected.items()},
        "configurations": [dict(zip(CONFIG, map(str, c))) for c in by_config],
        "skipped": loaded.skipped,
        "selection": {"runs": runs, "since": since, "items": items},
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    written.append(path)
    path = out / "REPORT.md"
    path.write_text(build_report(selected, aggregated, pairs, by_config) + "\n")
    written.append(path)
    return written
