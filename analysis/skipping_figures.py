"""What does skipping unchanged rows save? WAL written per row, by phase, for each strategy that
skips unchanged rows beside the strategy it is a variant of (writes.csv, analysis.skipping). The
look it shares with every figure is `figure_style`."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figure_style import add_provenance, log_ticks, phases_in, short_number
from analysis.skipping import SKIP_SUFFIX, skip_pairs

SIDES = (  # (which, label, colour, hatch): the blind strategy, then its skipping variant
    ("blind", "as is (updates every row it is given)", "#bdbdbd", ""),
    ("skipping", f"+ {SKIP_SUFFIX} (leaves rows whose values are already there)",
     sns.color_palette("colorblind")[3], "////"),
)
PANEL_WIDTH = 4.2


def skipping_wal_figure(rows: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """One panel per pair: for each phase, the blind strategy's median WAL per row beside its
    skipping variant's, the ratio above; log axis where the values span more than 20x."""
    pairs = [(skip, blind) for skip, blind in skip_pairs(rows["strategy"]) if
             rows.loc[rows["strategy"].isin([skip, blind]), "wal_per_row"].notna().any()]
    if not pairs:
        return None
    phases = phases_in(rows)
    values = rows.loc[rows["strategy"].isin({s for pair in pairs for s in pair}), "wal_per_row"].to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    log = len(values) > 0 and values.max() / values.min() > 20
    fig, axes = plt.subplots(1, len(pairs), figsize=(PANEL_WIDTH * len(pairs) + 0.8, 4.4), squeeze=False, sharey=True)
    width = 0.38
    at = rows.set_index(["strategy", "phase"])
    for ax, (skip, blind) in zip(axes[0], pairs):
        for offset, (which, label, colour, hatch), strategy in zip((-width / 2, width / 2), SIDES, (blind, skip)):
            heights = np.array([at["wal_per_row"].get((strategy, phase), math.nan) for phase in phases])
            x = np.arange(len(phases)) + offset
            drawn = np.isfinite(heights) & (heights > 0)
            ax.bar(x[drawn], heights[drawn], width=width, color=colour, hatch=hatch, edgecolor="black",
                   linewidth=0.4, label=label)
            for xi, height, shown in zip(x, heights, drawn):
                if shown:
                    ax.annotate(short_number(height), xy=(xi, height), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize=6)
                else:
                    ax.text(xi, 0.02, "failed", transform=ax.get_xaxis_transform(), rotation=90, ha="center",
                            va="bottom", fontsize=7, color="#c00000", fontweight="bold")
        for k, phase in enumerate(phases):
            ratio = at["wal_vs_blind"].get((skip, phase), math.nan)
            if np.isfinite(ratio):
                ax.text(k, 1.0, f"x{ratio:.2f}", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                        fontsize=7.5, fontweight="bold")
        ax.set_xticks(range(len(phases)), phases)
        ax.set_title(f"{blind}\n", loc="left", fontsize=8.5)
    if log:
        axes[0][0].set_yscale("log")
        log_ticks(axes[0][0].yaxis)
    top = axes[0][0].get_ylim()[1]
    axes[0][0].set_ylim(top=top * (3 if log else 1.15))  # room for the values above the bars
    axes[0][0].set_ylabel("WAL written per row (users + addresses),\nbytes, median of the passes", fontsize=8)
    fig.suptitle("What does skipping unchanged rows save?  WAL per row by phase; bold: skipping / as is",
                 x=0.0, ha="left", y=1.0, va="bottom", fontsize=10, fontweight="bold")
    axes[0][0].legend(loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=1, frameon=False, fontsize=7.5)
    fig.tight_layout()
    add_provenance(fig, provenance)
    return fig
