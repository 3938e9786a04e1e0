"""Figures of a scaling sweep: duration and memory against items (log-log), speed-up against
threads, and speed against lines of code. Same conventions as `figures.py`: colour-blind
palette, markers as well as colours (greyscale), provenance line, byte-identical output."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from analysis.figures import FLOOR_LABEL, _provenance, log_ticks
from analysis.stats import RATIO_INTERVAL

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]


FACETS = (("psycopg", ("psycopg",)), ("psycopg2", ("psycopg2",)), ("asyncpg", ("asyncpg",)),
          ("SQLAlchemy and pandas", ("sqlalchemy", "pandas")))
LINE_COLOURS = sns.color_palette("colorblind", 10)


def _facets(libraries: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(title, strategies) per row of panels: a library's strategies together, so any one of
    them can be followed; strategies of other libraries in a last row."""
    rows, placed = [], set()
    for title, names in FACETS:
        members = sorted(s for s, lib in libraries.items() if lib in names)
        if members:
            rows.append((title, members))
            placed.update(members)
    rest = sorted(s for s, lib in libraries.items() if s not in placed and lib != "postgresql")
    return rows + ([("other", rest)] if rest else [])


def versus_items(table: pd.DataFrame, value: str, ylabel: str, growth: pd.DataFrame, metric: str,
                 provenance: str) -> plt.Figure | None:
    """Median `value` per items count, log-log: one row of panels per library (insert | update),
    the floor as a grey band in every panel; each row's legend gives every strategy's fitted
    exponent per phase."""
    if table["items"].nunique() < 2:
        return None
    libraries = table.groupby("strategy")["library"].first().to_dict()
    floors = sorted(table.loc[table["reference"], "strategy"].unique())
    facets = _facets(libraries)
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    fig, axes = plt.subplots(len(facets), len(phases), figsize=(5.0 * len(phases) + 3.6, 2.9 * len(facets)),
                             squeeze=False, sharex=True, sharey=True)
    exps = growth[growth["metric"] == metric].set_index(["strategy", "phase"])["exponent"]
    for row, (facet, members) in enumerate(facets):
        handles = {}
        for col, phase in enumerate(phases):
            ax = axes[row][col]
            part = table[table["phase"] == phase]
            for strategy in floors:
                line = part[part["strategy"] == strategy].sort_values("items")
                ax.plot(line["items"], line[value], color="#999999", linewidth=3, linestyle="--",
                        alpha=0.6, zorder=1)
                handles.setdefault(strategy + FLOOR_LABEL, ax.lines[-1])
            for k, strategy in enumerate(members):
                line = part[part["strategy"] == strategy].sort_values("items")
                if line.empty:
                    continue
                (drawn,) = ax.plot(line["items"], line[value], color=LINE_COLOURS[k % 10],
                                   marker=MARKERS[k % len(MARKERS)], markersize=4, linewidth=1.2, zorder=2)
                handles.setdefault(strategy, drawn)
            ax.set_xscale("log")
            ax.set_yscale("log")
            _ticks_at(ax.xaxis, sorted(table["items"].unique()))
            log_ticks(ax.yaxis)
            ax.set_title(f"{facet}, {phase}", loc="left", fontsize=9)
            if row == len(facets) - 1:
                ax.set_xlabel("items (rows per table)")
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=8)
        labels = [name + "  " + " / ".join(f"{phase} ^{exps[(name.removesuffix(FLOOR_LABEL), phase)]:.2f}"
                                           for phase in phases
                                           if (name.removesuffix(FLOOR_LABEL), phase) in exps.index)
                  for name in handles]
        axes[row][-1].legend(list(handles.values()), labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                             fontsize=6.5, frameon=False, title="strategy  fitted exponent", title_fontsize=7)
    fig.subplots_adjust(hspace=0.35, wspace=0.08)
    _provenance(fig, provenance)
    return fig


def _ticks_at(axis, values) -> None:
    """Ticks at the measured sizes only (1-2-5 ticks over four decades run into each other)."""
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axis.set_minor_formatter(NullFormatter())


def speedup_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if table.empty:
        return None
    strategies = sorted(table["strategy"].unique())
    floors = set(table.loc[table["reference"], "strategy"])
    threaded = [s for s in strategies if s not in floors]
    styles = {s: {"color": LINE_COLOURS[k % 10], "marker": MARKERS[k % len(MARKERS)]} for k, s in enumerate(threaded)}
    styles.update({s: {"color": "#999999", "marker": "o", "linestyle": "--"} for s in floors})
    names = {s: s + (" (floor, one connection: a control)" if s in floors else "") for s in strategies}
    panels = sorted(table["items"].unique())
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    fig, axes = plt.subplots(len(phases), len(panels), figsize=(4.2 * len(panels) + 3.0, 3.6 * len(phases)),
                             squeeze=False, sharey=True)
    top = max(table["threads"].max(), 2)
    cores = _cores(table)
    ideal_x = sorted({1, *table["threads"].unique(), *([cores] if cores and cores < top else [])})
    ideal_y = [min(t, cores or t) for t in ideal_x]
    ideal = f"ideal: min(threads, {cores} cores)" if cores else "ideal (linear)"
    for row, phase in enumerate(phases):
        for col, items in enumerate(panels):
            ax = axes[row][col]
            part = table[(table["phase"] == phase) & (table["items"] == items)]
            ax.plot(ideal_x, ideal_y, color="#999999", linestyle=":", linewidth=1.2, label=ideal)
            ax.axhline(1, color="black", linewidth=0.6)
            for strategy, line in part.groupby("strategy", sort=True):
                line = line.sort_values("threads")
                errors = np.nan_to_num(np.vstack([np.clip(line["speedup"] - line["ci_low"], 0, None),
                                                  np.clip(line["ci_high"] - line["speedup"], 0, None)]))
                ax.errorbar(line["threads"], line["speedup"], yerr=errors, label=names[strategy], markersize=4,
                            linewidth=1, capsize=2, **styles[strategy])
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(table["threads"].unique()), [str(t) for t in sorted(table["threads"].unique())])
            ax.set_title(f"{phase}, {int(items):,} items", loc="left", fontsize=9)
            if row == len(phases) - 1:
                ax.set_xlabel("threads / connections")
            if col == 0:
                ax.set_ylabel("speed-up over the fewest threads", fontsize=8)
    legend = {}  # every strategy of every panel, once: panels may hold different strategies
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels = [ideal] + sorted(set(legend) - {ideal})
    axes[0][-1].legend([legend[label] for label in labels], labels, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False,
                       title="error bars: " + RATIO_INTERVAL.replace(" of the ratio", "\nof the ratio"),
                       title_fontsize=7, alignment="left")
    fig.subplots_adjust(hspace=0.3)
    _provenance(fig, provenance)
    return fig


def _cores(table: pd.DataFrame) -> int | None:
    """The machine's CPU count, from its label ("AMD EPYC x2, 25 GB"), when there is one machine."""
    counts = {m.group(1) for label in table.get("machine", pd.Series(dtype=str)).unique()
              if (m := re.search(r" x(\d+),", str(label)))}
    return int(counts.pop()) if len(counts) == 1 else None


def _place_numbers(ax, xs, ys, texts) -> None:
    """Each number beside its point, on the first side (right, left, above, below) where it
    overlaps neither an earlier number nor a point: no leader lines to cross."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    points = ax.transData.transform(np.column_stack([xs, ys]))
    placed = []
    for (px, py), text in sorted(zip(points, texts), key=lambda item: (item[0][1], item[0][0])):
        label = ax.text(0, 0, text, fontsize=6.5, ha="left", va="bottom", zorder=4, transform=None)
        size = label.get_window_extent(renderer)
        w, h = size.width, size.height
        for dx, dy in ((5, -h / 2), (-5 - w, -h / 2), (-w / 2, 5), (-w / 2, -5 - h), (5, 3), (5, -h - 3),
                       (-5 - w, 3), (-5 - w, -h - 3)):
            box = (px + dx, py + dy, px + dx + w, py + dy + h)
            clear = all(box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in placed)
            hits_point = any(box[0] - 3 < qx < box[2] + 3 and box[1] - 3 < qy < box[3] + 3 for qx, qy in points)
            if clear and not hits_point:
                break
        label.set_transform(ax.transData)  # in data units: stays beside its point at any dpi
        label.set_position(ax.transData.inverted().transform((box[0], box[1])))
        placed.append(box)


def speed_vs_code_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """Median duration against lines of code (the comprehensibility proxy), per phase; points
    numbered in order of duration, the key beside the panels."""
    if "loc" not in table or table["loc"].notna().sum() == 0:
        return None
    part = table[~table["reference"] & table["median_duration"].notna() & table["loc"].notna()]
    phases = [p for p in ("insert", "update") if p in set(part["phase"])]
    order = part.groupby("strategy")["median_duration"].mean().sort_values().index.tolist()
    number = {s: str(i) for i, s in enumerate(order, start=1)}
    fig, axes = plt.subplots(1, len(phases), figsize=(5.4 * len(phases) + 2.6, 5.4), squeeze=False,
                             sharey=True)
    for ax, phase in zip(axes[0], phases):
        data = part[part["phase"] == phase]
        raw = data["raw_sql"].astype(bool)
        for flag, marker, label in ((True, "o", "writes SQL text"), (False, "s", "library constructs only")):
            sel = data[raw == flag]
            ax.scatter(sel["loc"], sel["median_duration"], marker=marker, s=24, edgecolor="black",
                       linewidth=0.5, color=sns.color_palette("colorblind")[0 if flag else 2], label=label,
                       zorder=3)
        ax.set_yscale("log")
        log_ticks(ax.yaxis)
        ax.set_xlabel("lines of code (without docstring, comments, blank lines)")
        ax.set_title(f"{phase}: speed vs size of the code", loc="left")
        ax.legend(loc="upper right", fontsize=7, frameon=True)
        _place_numbers(ax, data["loc"].to_numpy(float), data["median_duration"].to_numpy(float),
                       [number[s] for s in data["strategy"]])
    axes[0][0].set_ylabel("median duration per pass, seconds")
    key = "\n".join(f"{number[s]:>2}  {s}" for s in order)
    axes[0][-1].text(1.04, 1.0, key, transform=axes[0][-1].transAxes, fontsize=6.8, va="top",
                     family="DejaVu Sans Mono")
    fig.subplots_adjust(wspace=0.08)
    _provenance(fig, provenance)
    return fig
