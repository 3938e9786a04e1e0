"""Figures of a scaling sweep: duration and memory against items (log-log), speed-up against
threads, and speed against lines of code. Same conventions as `figures.py`: colour-blind
palette, markers as well as colours (greyscale), provenance line, byte-identical output."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figures import FLOOR_LABEL, _provenance, log_ticks
from contract.libraries import library, library_of_name

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h"]


def _styles(strategies: list[str], libraries: dict[str, str]) -> dict[str, dict]:
    """A colour per library (the registry's, the same in every figure) and a marker per
    strategy within it."""
    styles, count = {}, {}
    for name in sorted(strategies):
        lib = libraries.get(name, "other")
        k = count.get(lib, 0)
        count[lib] = k + 1
        styles[name] = {"color": library(lib).colour, "marker": MARKERS[k % len(MARKERS)],
                        "linestyle": "-" if k < len(MARKERS) else "--"}
    return styles


def versus_items(table: pd.DataFrame, value: str, ylabel: str, title: str, growth: pd.DataFrame,
                 metric: str, provenance: str) -> plt.Figure | None:
    """One line per strategy: median `value` per items count, log-log, per phase; the legend
    gives each strategy's fitted exponent."""
    if table["items"].nunique() < 2:
        return None
    libraries = table.groupby("strategy")["library"].first().to_dict()
    styles = _styles(list(libraries), libraries)
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    fig, axes = plt.subplots(1, len(phases), figsize=(6.4 * len(phases) + 3.2, 6.2), squeeze=False)
    for ax, phase in zip(axes[0], phases):
        part = table[table["phase"] == phase]
        exps = growth[(growth["phase"] == phase) & (growth["metric"] == metric)].set_index("strategy")["exponent"]
        for strategy, line in part.groupby("strategy", sort=True):
            line = line.sort_values("items")
            label = strategy + (FLOOR_LABEL if line["reference"].any() else "")
            if strategy in exps.index:
                label += f"  (^{exps[strategy]:.2f})"
            # the floor as a wide dashed band beneath the others, so a strategy on top of it shows
            look = ({"linewidth": 2.6, "linestyle": "--", "alpha": 0.55, "zorder": 1} if line["reference"].any()
                    else {"linewidth": 1, "zorder": 2})
            ax.plot(line["items"], line[value], label=label, markersize=4, **{**styles[strategy], **look})
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_ticks(ax.xaxis)
        log_ticks(ax.yaxis)
        ax.set_xlabel("items (rows per table)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{phase}: {title}", loc="left")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5,
                       frameon=False, title="strategy (fitted exponent)", title_fontsize=7)
    _provenance(fig, provenance)
    return fig


def speedup_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if table.empty:
        return None
    libraries = {s: library_of_name(s) for s in table["strategy"].unique()}  # speedup.csv has no library
    styles = _styles(list(libraries), libraries)
    panels = sorted(table["items"].unique())
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    fig, axes = plt.subplots(len(phases), len(panels), figsize=(4.2 * len(panels) + 3.0, 3.6 * len(phases)),
                             squeeze=False, sharey=True)
    top = max(table["threads"].max(), 2)
    for row, phase in enumerate(phases):
        for col, items in enumerate(panels):
            ax = axes[row][col]
            part = table[(table["phase"] == phase) & (table["items"] == items)]
            ax.plot([1, top], [1, top], color="#999999", linestyle=":", linewidth=1, label="ideal (linear)")
            ax.axhline(1, color="black", linewidth=0.6)
            for strategy, line in part.groupby("strategy", sort=True):
                line = line.sort_values("threads")
                errors = np.nan_to_num(np.vstack([np.clip(line["speedup"] - line["ci_low"], 0, None),
                                                  np.clip(line["ci_high"] - line["speedup"], 0, None)]))
                ax.errorbar(line["threads"], line["speedup"], yerr=errors, label=strategy, markersize=4,
                            linewidth=1, capsize=2, **styles[strategy])
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(table["threads"].unique()), [str(t) for t in sorted(table["threads"].unique())])
            ax.set_title(f"{phase}, {int(items):,} items", loc="left", fontsize=9)
            if row == len(phases) - 1:
                ax.set_xlabel("threads / connections")
            if col == 0:
                ax.set_ylabel("speed-up over the fewest threads")
    legend = {}  # every strategy of every panel, once: panels may hold different strategies
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    labels = ["ideal (linear)"] + sorted(set(legend) - {"ideal (linear)"})
    axes[0][-1].legend([legend[label] for label in labels], labels, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.subplots_adjust(hspace=0.3)
    _provenance(fig, provenance)
    return fig


def speed_vs_code_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """Median duration against lines of code (the comprehensibility proxy), per phase."""
    if "loc" not in table or table["loc"].notna().sum() == 0:
        return None
    part = table[~table["reference"] & table["median_duration"].notna() & table["loc"].notna()]
    phases = [p for p in ("insert", "update") if p in set(part["phase"])]
    fig, axes = plt.subplots(1, len(phases), figsize=(6.2 * len(phases) + 1.5, 5.6), squeeze=False)
    for ax, phase in zip(axes[0], phases):
        data = part[part["phase"] == phase].sort_values("median_duration", ascending=False)
        raw = data["raw_sql"].astype(bool)
        for flag, marker, label in ((True, "o", "writes SQL text"), (False, "s", "library constructs only")):
            sel = data[raw == flag]
            ax.scatter(sel["loc"], sel["median_duration"], marker=marker, s=30, edgecolor="black",
                       linewidth=0.5, color=sns.color_palette("colorblind")[0 if flag else 2], label=label,
                       zorder=3)
        ax.set_yscale("log")
        log_ticks(ax.yaxis)
        count = len(data)
        for i, row in enumerate(data.itertuples()):  # labels in a column, joined to their points
            ax.annotate(row.strategy, xy=(row.loc, row.median_duration), xycoords="data",
                        xytext=(1.03, 1 - (i + 0.5) / max(count, 1)), textcoords="axes fraction",
                        fontsize=6.3, va="center",
                        arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.4})
        ax.set_xlabel("lines of code (without docstring, comments, blank lines)")
        ax.set_ylabel("median duration per pass, seconds")
        ax.set_title(f"{phase}: speed vs size of the code", loc="left")
        ax.legend(loc="lower right", fontsize=7, frameon=True)
    fig.subplots_adjust(wspace=0.9)
    _provenance(fig, provenance)
    return fig
