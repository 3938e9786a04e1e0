"""`make figures`: every selected run into the `figures/` folder, reproducibly.

Writes the data the figures are drawn from (`passes.csv`, `aggregate.csv`, `correlation.csv`,
`significance.csv`, `manifest.json` listing the runs), one set of figures per configuration
(PNG; SVG too for the headline figures; only the kinds a published set asks for) and
`REPORT.md`. Files this command wrote before and would not write now (a configuration no longer
selected) are removed; nothing else in the folder is touched.
Running it twice on the same runs gives byte-identical files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from analysis import figure_kinds, figure_style
from analysis.aggregate import aggregate
from analysis.contention_outcomes import contention_outcomes
from analysis.correlate import correlate
from analysis.duplicate_outcomes import duplicate_outcomes
from analysis.load import (
    CONFIG_COLUMNS,
    Loaded,
    config_label,
    config_slug,
    configurations,
    known,
    latency_slug,
    latency_text,
    load_runs,
    plural,
    variant_slug,
)
from analysis.report import build_report
from analysis.cost_model import cost_model
from analysis.distance import PLACE as DISTANCE_PLACE
from analysis.distance import base_variant, distance
from analysis.scaling import growth, speedup
from analysis.significance import significance
from analysis.skipping import writes
from analysis.wire_counts import wire_counts
from contract.manifest import Manifest

TABLES = ("passes", "aggregate", "correlation", "significance", "growth", "cost", "speedup", "contention", "wire",
          "distance", "duplicates", "writes")
ALWAYS_WRITTEN = TABLES[:4]  # the others only when the runs hold a sweep, contention passes, wire counts,
# duplicate keys or a strategy that skips unchanged rows beside its counterpart
GENERATED = re.compile(r"^(REPORT\.md|manifest\.json|(" + "|".join(TABLES) + r")\.csv|("
                       + "|".join([*figure_kinds.BY_NAME, *figure_kinds.FORMER_NAMES]) + r")_.+\.(png|svg))$")
CSV_OPTIONS = {"index": False, "float_format": "%.6g", "lineterminator": "\n"}


def _rows_of(table: pd.DataFrame, config: tuple) -> pd.DataFrame:
    if table.empty:
        return table
    return table[(table[CONFIG_COLUMNS] == pd.Series(config, index=CONFIG_COLUMNS)).all(axis=1)]


def _values(series: pd.Series, fmt=str) -> str:
    return ", ".join(fmt(v) for v in sorted(series.unique(), key=lambda v: (str(type(v)), v)))


def _variants(passes: pd.DataFrame) -> str:
    variants = set(passes["variant"]) - {"default"} if "variant" in passes else set()
    return f", {_values(passes['variant'])}" if variants else ""


def provenance(loaded: Loaded, passes: pd.DataFrame) -> str:
    """The small grey line on every figure: where its numbers come from."""
    run_ids = sorted(set(passes["run_id"]))
    manifests = [loaded.manifests.get(r) or Manifest() for r in run_ids]
    commits = sorted({(m.git.commit or "unknown")[:7] + ("+" if m.git.dirty else "") for m in manifests})
    dates = sorted({(m.started_at or "")[:10] for m in manifests} - {""})
    counts = passes.groupby(["strategy", "phase", *CONFIG_COLUMNS]).size()
    repeats = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"
    python = sorted({known(m.machine.python) for m in manifests})
    date_text = dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}" if dates else "?"
    ids = ", ".join(run_ids) if len(run_ids) <= 2 else f"{run_ids[0]} .. {run_ids[-1]} ({len(run_ids)} runs)"
    return (f"commit {', '.join(commits)} · PostgreSQL {_values(passes['pg_version'].astype(str))} "
            f"({_values(passes['backend'])}{_variants(passes)}) · {_values(passes['items'], lambda v: f'{int(v):,}')} items · "
            f"{plural(_values(passes['threads'], lambda v: str(int(v))), 'thread')} · {plural(repeats, 'repeat')} · "
            f"run {ids}, {date_text} · {_values(passes['machine'])} · Python {', '.join(python)}")


class Output:
    """The folder being written: clears what an earlier run of this command left, remembers
    every file it writes."""

    def __init__(self, folder: Path, kinds: list[str] | None = None):
        self.folder = folder
        self.kinds = kinds  # figure kinds to draw (figure_kinds names); None: every kind
        self.written: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file() and GENERATED.match(old.name):
                old.unlink()

    def table(self, name: str, table: pd.DataFrame) -> None:
        path = self.folder / f"{name}.csv"
        table.to_csv(path, **CSV_OPTIONS)
        self.written.append(path)

    def text(self, name: str, text: str) -> None:
        path = self.folder / name
        path.write_text(text)
        self.written.append(path)

    def figure(self, kind: figure_kinds.FigureKind, slug: str, what: str, *args, **kwargs) -> list[str]:
        """`kind` drawn from `args` (only if the set wants this kind), saved as `<kind>_<slug>`
        under the headline `what` (its configuration); [that name], or [] when nothing was drawn."""
        if self.kinds is not None and kind.name not in self.kinds:
            return []
        fig = kind(*args, **kwargs)
        if fig is None:
            return []
        if what:
            figure_style.headline(fig, what)
        name = f"{kind.name}_{slug}"
        self.written += figure_style.save(fig, self.folder, name, svg=kind.headline)
        return [name]


def _where(passes: pd.DataFrame, **values) -> pd.DataFrame:
    mask = pd.Series(True, index=passes.index)
    for column, value in values.items():
        mask &= passes[column].astype(str) == str(value)
    return passes[mask]


def _slugs(passes: pd.DataFrame) -> dict[tuple, str]:
    """Each configuration's part of its figures' file names."""
    several_machines = passes["machine"].nunique() > 1
    return {config: config_slug(config) + (f"_m{number}" if several_machines else "")
            for number, config in enumerate(configurations(passes), start=1)}


def _configuration_figures(out: Output, loaded: Loaded, passes, aggregated, pairs) -> dict[tuple, list[str]]:
    """Per configuration, every kind of figure_kinds drawn per configuration, in its order."""
    by_config = {}
    for config, slug in _slugs(passes).items():
        text = provenance(loaded, _rows_of(passes, config))
        table = _rows_of(aggregated, config)
        names, what = [], config_label(config)
        rows = {"aggregate": table, "significance": _rows_of(pairs, config)}
        for kind in figure_kinds.per("configuration"):
            names += out.figure(kind, slug, what, rows[kind.reads], provenance=text)
        by_config[config] = names
    return by_config


def _versions_figures(out: Output, loaded: Loaded, passes, aggregated) -> list[str]:
    """PostgreSQL servers (version and backend) side by side, where the runs hold several for the
    same items, threads and machine: e.g. embedded 16 and 18 of a matrix run beside a local 15."""
    names = []
    for (items, threads, variant, machine, latency), part in aggregated.groupby(
            ["items", "threads", "variant", "machine", "latency_ms"], sort=True):
        if part[["pg_version", "backend"]].drop_duplicates().shape[0] > 1:
            rows = _where(passes, items=items, threads=threads, variant=variant, machine=machine, latency_ms=latency)
            for kind in figure_kinds.per("servers"):
                names += out.figure(kind, f"items{int(items)}_threads{int(threads)}{variant_slug(variant)}"
                                    + latency_slug(latency),
                                    f"PostgreSQL versions: {int(items):,} items, {int(threads)} threads"
                                    + ("" if variant == "default" else f", {variant}") + latency_text(latency)
                                    + f", {machine}", part, provenance=provenance(loaded, rows))
    return names


def _scaling_figures(out: Output, loaded: Loaded, passes, aggregated, growths, costs, speedups) -> list[str]:
    """Duration and memory against items (per version, backend, machine, threads) and speed-up
    against threads (per version, backend, machine), where the runs span several of them."""
    names = []
    for (pg, backend, variant, machine, latency, threads), part in aggregated.groupby(
            ["pg_version", "backend", "variant", "machine", "latency_ms", "threads"], sort=True):
        if part["items"].nunique() < 2:
            continue
        place = dict(pg_version=pg, backend=backend, variant=variant, machine=machine, latency_ms=latency)
        text = provenance(loaded, _where(passes, **place, threads=threads))
        fits = _where(growths, **place, threads=threads)
        slug = f"threads{int(threads)}_pg{pg}_{backend}{variant_slug(variant)}{latency_slug(latency)}"
        for kind in figure_kinds.per("items"):
            names += out.figure(kind, slug,
                                f"{kind.options['metric'].capitalize()} against items: {int(threads)} threads, "
                                f"PostgreSQL {pg} ({backend}{'' if variant == 'default' else ', ' + variant})"
                                f"{latency_text(latency)}, {machine}", part, growth=fits,
                                costs=_where(costs, **place, threads=threads), provenance=text)
    if not speedups.empty:
        for (pg, backend, variant, machine, latency), part in speedups.groupby(
                ["pg_version", "backend", "variant", "machine", "latency_ms"], sort=True):
            rows = _where(passes, pg_version=pg, backend=backend, variant=variant, machine=machine, latency_ms=latency)
            rows = rows[rows["strategy"].isin(set(part["strategy"]))]
            for kind in figure_kinds.per("threads"):
                names += out.figure(kind, f"pg{pg}_{backend}{variant_slug(variant)}{latency_slug(latency)}",
                                    f"Speed-up with threads: PostgreSQL {pg} ({backend}"
                                    f"{'' if variant == 'default' else ', ' + variant}){latency_text(latency)}, "
                                    f"{machine}", part, provenance=provenance(loaded, rows))
    return names


def _skipping_figures(out: Output, loaded: Loaded, passes, written) -> dict[tuple, list[str]]:
    """Per configuration holding a strategy that skips unchanged rows and its counterpart."""
    by_config, paired = {}, set(configurations(written[written["blind"] != ""])) if len(written) else set()
    for config, slug in _slugs(passes).items():
        for kind in figure_kinds.per("skipping") if config in paired else []:
            by_config.setdefault(config, []).extend(out.figure(
                kind, slug, config_label(config), _rows_of(written, config),
                provenance=provenance(loaded, _rows_of(passes, config))))
    return by_config


def _distance_figures(out: Output, loaded: Loaded, passes, distances) -> list[str]:
    """Duration against round-trip time, per items, threads, server and machine with wire counts."""
    names = []
    for key, part in distances.groupby(DISTANCE_PLACE, sort=True):
        place = dict(zip(DISTANCE_PLACE, key))
        rows = passes[passes["variant"].map(base_variant) == place["variant"]]
        rows = _where(rows, **{c: v for c, v in place.items() if c != "variant"})
        variant = place["variant"]
        for kind in figure_kinds.per("distance"):
            names += out.figure(kind, f"items{int(place['items'])}_threads{int(place['threads'])}_pg{place['pg_version']}_"
                                f"{place['backend']}{variant_slug(variant)}",
                                f"At a distance: {int(place['items']):,} items, {int(place['threads'])} threads, "
                                f"PostgreSQL {place['pg_version']} ({place['backend']}"
                                f"{'' if variant == 'default' else ', ' + variant}), {place['machine']}",
                                part, provenance=provenance(loaded, rows))
    return names


def build(results_dir: Path, out_dir: Path, runs: str | None = None, since: str | None = None,
          items: int | None = None, echo=print, sweep: str | None = None,
          allow_mixed: bool = False, kinds: list[str] | None = None, published: bool = False) -> list[Path]:
    """The tables, figures and REPORT.md of the runs in `results_dir`, written to `out_dir`. A
    published set (`published`) leaves out passes.csv: its runs/ hold the same passes, and
    figures/ must stay small."""
    loaded = load_runs(results_dir, runs, since, items, warn=echo, sweep=sweep, allow_mixed=allow_mixed)
    passes = loaded.passes.sort_values(["run_id", "server", "repeat", "order", "phase"]
                                       if "order" in loaded.passes else ["run_id", "repeat"],
                                       kind="stable").reset_index(drop=True)
    aggregated = aggregate(passes)
    pairs = significance(passes)
    growths, costs, speedups = growth(passes), cost_model(passes), speedup(passes)
    outcomes, doubled, written = contention_outcomes(passes), duplicate_outcomes(passes), writes(passes)
    wires, distances = wire_counts(passes), distance(passes, loaded.manifests)
    kinds = figure_kinds.current_names(kinds)  # a set.json may use a kind's earlier name
    out = Output(out_dir, kinds)
    tables = dict(zip(TABLES, (passes, aggregated, correlate(aggregated), pairs, growths, costs, speedups,
                               outcomes, wires, distances, doubled, written)))
    for name, table in tables.items():
        if (not table.empty or name in ALWAYS_WRITTEN) and not (published and name == "passes"):
            out.table(name, table)
    figure_style.setup_style()
    by_config = _configuration_figures(out, loaded, passes, aggregated, pairs)
    versions = _versions_figures(out, loaded, passes, aggregated)
    scaling = _scaling_figures(out, loaded, passes, aggregated, growths, costs, speedups)
    at_distance = _distance_figures(out, loaded, passes, distances)
    skipping = _skipping_figures(out, loaded, passes, written)
    selected = {r: m for r, m in sorted(loaded.manifests.items()) if r in set(passes["run_id"])}
    manifest = {
        "results_dir": str(results_dir.name),
        "runs": {run_id: {"started_at": m.started_at, "commit": m.git.commit, "dirty": m.git.dirty}
                 for run_id, m in selected.items()},
        "configurations": [dict(zip(CONFIG_COLUMNS, map(str, c))) for c in by_config],
        "skipped": loaded.skipped,
        "selection": {"runs": runs, "since": since, "items": items, "sweep": sweep,
                      "allow_mixed": allow_mixed, "figures": kinds},
    }
    out.text("manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    out.text("REPORT.md", build_report(selected, aggregated, pairs, by_config, versions, scaling, growths,
                                           outcomes, costs, (distances, wires, at_distance, selected),
                                           (doubled, written, skipping), published) + "\n")
    return out.written
