"""How a strategy scales, across the configurations of a sweep: duration and memory against
items (log-log), speed-up against threads. The look it shares with every figure is
`figure_style`; markers as well as colours (greyscale)."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from analysis.figure_style import FLOOR_LABEL, add_provenance, log_ticks, phases_in
from analysis.scaling import INTERVALS, SEPARATE

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
                 provenance: str, costs: pd.DataFrame | None = None) -> plt.Figure | None:
    """Median `value` per items count, log-log: one row of panels per library (a panel per phase),
    the floor as a grey band in every panel; each row's legend gives every strategy's fixed +
    per-item cost per phase (duration, analysis.cost_model) or its fitted exponent (memory)."""
    if table["items"].nunique() < 2:
        return None
    libraries = table.groupby("strategy")["library"].first().to_dict()
    floors = sorted(table.loc[table["reference"], "strategy"].unique())
    facets = _facets(libraries)
    phases = phases_in(table)
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
        labels = [name + "  " + _legend_values(name.removesuffix(FLOOR_LABEL), phases, metric, exps, costs)
                  for name in handles]
        title = ("strategy  fixed ms + µs per item (fit to 100,000)" if metric == "duration" and costs is not None
                 else "strategy  fitted exponent")
        axes[row][-1].legend(list(handles.values()), labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                             fontsize=6.5, frameon=False, title=title, title_fontsize=7)
    fig.subplots_adjust(hspace=0.35, wspace=0.08)
    add_provenance(fig, provenance)
    return fig


def _legend_values(strategy: str, phases: list[str], metric: str, exps: pd.Series,
                   costs: pd.DataFrame | None) -> str:
    if metric == "duration" and costs is not None:
        fits = costs.set_index(["strategy", "phase"])
        return " / ".join(f"{phase[:3]} {fits.loc[(strategy, phase), 'fixed_ms']:.0f} + "
                          f"{fits.loc[(strategy, phase), 'per_item_us']:.1f}"
                          for phase in phases if (strategy, phase) in fits.index)
    return " / ".join(f"{phase} ^{exps[(strategy, phase)]:.2f}" for phase in phases if (strategy, phase) in exps.index)


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
    phases = phases_in(table)
    if "design" not in table:  # a speedup.csv from before the interleaved design
        table = table.assign(design=SEPARATE, interval=INTERVALS[SEPARATE])
    several_designs = table["design"].nunique() > 1
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
            for (strategy, design), line in part.groupby(["strategy", "design"], sort=True):
                line = line.sort_values("threads")
                label = names[strategy] + (f" ({design})" if several_designs else "")
                errors = np.nan_to_num(np.vstack([np.clip(line["speedup"] - line["ci_low"], 0, None),
                                                  np.clip(line["ci_high"] - line["speedup"], 0, None)]))
                ax.errorbar(line["threads"], line["speedup"], yerr=errors, label=label, markersize=4,
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
                       title="error bars: " + "\n".join((f"{d}: " if several_designs else "") + _broken(INTERVALS[d])
                                                         for d in sorted(table["design"].unique())),
                       title_fontsize=7, alignment="left")
    fig.subplots_adjust(hspace=0.3)
    add_provenance(fig, provenance)
    return fig


def _broken(interval: str) -> str:
    """An interval's label on two lines, for the legend's title."""
    return interval.replace(" of the ratio", "\nof the ratio").replace(" of the within", "\nof the within")


def _cores(table: pd.DataFrame) -> int | None:
    """The machine's CPU count, from its label ("AMD EPYC x2, 25 GB"), when there is one machine."""
    counts = {m.group(1) for label in table.get("machine", pd.Series(dtype=str)).unique()
              if (m := re.search(r" x(\d+),", str(label)))}
    return int(counts.pop()) if len(counts) == 1 else None
