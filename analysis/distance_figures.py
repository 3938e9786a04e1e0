"""Duration against the round-trip time to the server, log-log: what each family of strategies
costs at your distance (analysis.distance), the measured points on it, and where the families
cross ten times the fastest."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.distance import FAMILY_ORDER, RTTS_MS, predicted
from analysis.figure_style import add_provenance, log_ticks, phase_panels, phases_in

X_MS = np.geomspace(0.05, 20, 200)
COLOURS = dict(zip(FAMILY_ORDER, sns.color_palette("colorblind", len(FAMILY_ORDER))))
MARKERS = dict(zip(FAMILY_ORDER, ["o", "s", "^", "D"]))
DISTANCES = dict(zip(RTTS_MS, ("same zone", "same region", "next region")))  # where a server that far is


def representatives(rows: pd.DataFrame) -> dict[str, str]:
    """Per family, its strategy predicted fastest at 1 ms (rows of one phase): the line drawn bold."""
    at = rows[(rows["rtt_ms"] == 1.0) & ~rows["reference"].astype(bool)]
    best = at.sort_values(["predicted_s", "strategy"]).drop_duplicates("family")
    return dict(zip(best["family"], best["strategy"]))


def distance_figure(rows: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if rows.empty:
        return None
    phases = phases_in(rows)
    fig, axes, panels = phase_panels(phases, 6.4, 6.4, sharey=True)
    for ax, phase in zip(panels, phases):
        part = rows[rows["phase"] == phase]
        chosen = representatives(part)
        models = {s: g.iloc[0] for s, g in part.groupby("strategy", sort=True)}
        for strategy, model in models.items():
            kin = model["family"]
            if model["reference"]:
                ax.plot(X_MS, predicted(model, X_MS), color="#777777", linestyle="--", linewidth=1.5,
                        label=f"floor: {strategy}")
            elif chosen.get(kin) != strategy:
                ax.plot(X_MS, predicted(model, X_MS), color=COLOURS[kin], linewidth=0.7, alpha=0.35)
        for kin in FAMILY_ORDER:
            if kin in chosen and chosen[kin] in models:
                _bold(ax, part[part["strategy"] == chosen[kin]], models[chosen[kin]], kin)
        _crossovers(ax, models, chosen)
        for rtt, name in DISTANCES.items():
            ax.axvline(rtt, color="#bbbbbb", linewidth=0.8, linestyle=":", zorder=0)
            ax.text(rtt, 1.0, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7, color="#666666",
                    rotation=90, ha="right", va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_ticks(ax.xaxis)
        log_ticks(ax.yaxis)
        ax.set_xlabel("round-trip time to the server, ms")
        ax.set_title(phase, loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False, fontsize=7.2, alignment="left",
                  title="lines: predicted, local + round trips x round-trip time; bold: the family's fastest at "
                        "1 ms;\npoints: measured locally and through the relay (geometric mean, 95% t-interval)",
                  title_fontsize=7.2)
    for ax in axes[:, 0]:
        ax.set_ylabel("duration per pass, s")
    fig.tight_layout()
    add_provenance(fig, provenance)
    return fig


def _bold(ax, rows: pd.DataFrame, model: pd.Series, kin: str) -> None:
    """The family's chosen strategy: its predicted line, its local duration and the durations
    measured through the relay, at the round-trip times measured for them."""
    tenfold = model["rtt_10x_fastest_ms"]
    when = ("" if not np.isfinite(tenfold) else ", 10x the fastest locally" if tenfold == 0
            else f", 10x the fastest from {tenfold:.2g} ms (star)")
    ax.plot(X_MS, predicted(model, X_MS), color=COLOURS[kin], linewidth=2.2,
            label=f"{kin}: {model['strategy']}\n  {model['turns']:,.0f} round trips waited{when}")
    measured = rows[rows["measured"].astype(bool)].sort_values("measured_rtt_ms")
    points = [(model["local_rtt_ms"], model["local_s"], math.nan, math.nan)] if np.isfinite(model["local_rtt_ms"]) else []
    points += list(zip(measured["measured_rtt_ms"], measured["measured_s"], measured["measured_low"],
                       measured["measured_high"]))
    for x, y, low, high in points:
        error = [[y - low], [high - y]] if np.isfinite(low) else None
        ax.errorbar([x], [y], yerr=error, fmt=MARKERS[kin], color=COLOURS[kin], markersize=5,
                    markeredgecolor="black", markeredgewidth=0.5, capsize=2, zorder=5)


def _crossovers(ax, models: dict, chosen: dict) -> None:
    """A mark where each family's chosen strategy becomes 10 times the fastest strategy."""
    for kin, strategy in chosen.items():
        if strategy not in models:
            continue
        at = models[strategy]["rtt_10x_fastest_ms"]
        if np.isfinite(at) and X_MS[0] < at < X_MS[-1]:
            y = float(predicted(models[strategy], at))
            ax.plot([at], [y], marker="*", markersize=11, color=COLOURS[kin], markeredgecolor="black",
                    markeredgewidth=0.6, zorder=6, linestyle="none")

