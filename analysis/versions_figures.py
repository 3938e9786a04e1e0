"""Does the ranking hold on another server? Each strategy on every PostgreSQL server (version
and backend) the runs hold for the same items, threads and machine, side by side per phase. The
look it shares with every figure is `figure_style`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figure_style import (
    add_provenance,
    log_if_wide,
    log_ticks,
    phase_panels,
    phases_in,
    strategy_labels,
    strategy_order,
)
from analysis.stats import DURATION_INTERVAL


def versions_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """Median duration per strategy on each PostgreSQL server (version and backend) of the same
    items/threads/machine, side by side per phase (version matrix runs)."""
    table = table.assign(server=table["pg_version"].astype(str) + " " + table["backend"].astype(str))
    versions = sorted(table["server"].unique(),
                      key=lambda v: [int(x) if x.isdigit() else x for x in v.replace("-", ".").replace(" ", ".").split(".")])
    if len(versions) < 2:
        return None
    order = strategy_order(table)
    labels = strategy_labels(table)
    palette = sns.color_palette("colorblind", len(versions))
    hatches = ["", "////", "....", "xxxx", "\\\\", "oo"]
    phases = phases_in(table)
    fig, axes, panels = phase_panels(phases, 7.0, 0.9 + 0.42 * len(order) + 0.9, sharey=True)
    height = 0.8 / len(versions)
    for ax, phase in zip(panels, phases):
        for k, version in enumerate(versions):
            part = table[(table["phase"] == phase) & (table["server"] == version)]
            part = part.groupby("strategy")[["geomean_duration", "ci_low", "ci_high"]].first().reindex(order)
            y = np.arange(len(order)) - 0.4 + height * (k + 0.5)
            values = part["geomean_duration"].to_numpy(dtype=float)
            errors = np.nan_to_num(np.vstack([np.clip(values - part["ci_low"].to_numpy(dtype=float), 0, None),
                                              np.clip(part["ci_high"].to_numpy(dtype=float) - values, 0, None)]))
            ax.barh(y, np.nan_to_num(values), height=height, color=palette[k], hatch=hatches[k % len(hatches)],
                    edgecolor="black", linewidth=0.4, label=f"PostgreSQL {version}", xerr=errors,
                    error_kw={"elinewidth": 0.7, "capsize": 1.2})
        if log_if_wide(ax, table["median_duration"]):
            log_ticks(ax.xaxis)
        ax.set_yticks(range(len(order)), [labels[s] for s in order])
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_xlabel(f"seconds per pass, geometric mean\n(error bars: {DURATION_INTERVAL})")
        ax.set_title(f"{phase}: PostgreSQL versions side by side", loc="left")
    handles, labels = axes[0][0].get_legend_handles_labels()
    top = max(ax.get_position().y1 for ax in axes[0])
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, top + 0.022), ncol=len(versions),
               frameon=False, fontsize=8)  # above the panels' titles, centred: never on them
    add_provenance(fig, provenance)
    return fig
