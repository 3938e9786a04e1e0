"""One configuration's strategies side by side: which is fastest (duration, x floor with rank
bands), which is leanest (peak memory), what each costs the server (WAL per row), the original's
z-scores, whether a difference is real (pairwise heatmaps) and what speed costs in code (speed
against lines of code). The look they share is `figure_style`; which kinds exist, `figure_kinds`.

Duration bars are the geometric mean with its 95% t-interval (analysis.stats); failed passes are
written next to their strategy in red.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.figure_style import (
    PHASE_MARKERS,
    add_provenance,
    log_if_wide,
    log_ticks,
    phase_offsets,
    phase_panels,
    phase_style,
    phases_in,
    short_number,
    strategy_labels,
    strategy_order,
)
from analysis.load import ordered_phases
from analysis.significance import PAIR_TEST
from analysis.stats import DURATION_INTERVAL


def _failure_notes(ax, table: pd.DataFrame, order: list[str], x_text: float) -> None:
    for i, strategy in enumerate(order):
        rows = table[table["strategy"] == strategy]
        failed = {r.phase: (int(r.n - r.n_ok), int(r.n)) for r in rows.itertuples() if r.n_ok < r.n}
        if failed:
            text = "FAILED " + ", ".join(f"{phase} {failed[phase][0]}/{failed[phase][1]}"
                                         for phase in ordered_phases(failed))
            ax.text(x_text, i, text, color="#c00000", fontsize=7, va="center", ha="left",
                    fontweight="bold", transform=ax.get_yaxis_transform())


def _paired_bars(table: pd.DataFrame, value: str, low: str, high: str, xlabel: str, title: str,
                 provenance: str, marker_at: float | None = None) -> plt.Figure:
    """Horizontal bars, the phases side by side per strategy (in PHASES order), with CI error
    bars, strategies ordered by `value` (the mean over their phases)."""
    order = strategy_order(table, value)
    labels = strategy_labels(table)
    phases = phases_in(table)
    row = 0.36 * max(1, len(phases) / 2)  # inches per strategy: two phases' bars fit in 0.36
    fig, ax = plt.subplots(figsize=(8.5, 0.55 + row * len(order) + 0.9))
    height = 0.76 / len(phases)
    for offset, phase in zip(phase_offsets(len(phases), height), phases):
        part = table[table["phase"] == phase].set_index("strategy").reindex(order)
        y = np.arange(len(order)) + offset
        values = part[value].to_numpy(dtype=float)
        err_low = np.clip(values - part[low].to_numpy(dtype=float), 0, None)
        err_high = np.clip(part[high].to_numpy(dtype=float) - values, 0, None)
        errors = np.nan_to_num(np.vstack([err_low, err_high]))
        style = phase_style(phase)
        ax.barh(y, np.nan_to_num(values), height=height, color=style["color"], hatch=style["hatch"],
                edgecolor="black", linewidth=0.4, label=phase, xerr=errors,
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "black"})
        for yi, v, hi in zip(y, values, part[high].to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.annotate(short_number(v), xy=(max(v, hi) if np.isfinite(hi) else v, yi),
                            xytext=(3, 0), textcoords="offset points", va="center", fontsize=6.5)
    if log_if_wide(ax, table[value]):
        log_ticks(ax.xaxis)
    ax.set_xlim(right=ax.get_xlim()[1] * (1.6 if ax.get_xscale() == "log" else 1.12))
    if marker_at is not None:
        if ax.get_xlim()[0] > marker_at:  # every bar far above the marker: keep the marker in view
            ax.set_xlim(left=marker_at * 0.9 if ax.get_xscale() == "log" else 0)
        ax.axvline(marker_at, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(order)), [labels[s] for s in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    # the legend sits above the axes, right; past two phases it is as wide as the title: title above it
    ax.set_title(title, loc="left", **({} if len(phases) <= 2 else {"pad": 20}))
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=len(phases), frameon=False, fontsize=8)
    _failure_notes(ax, table, order, 1.01)
    add_provenance(fig, provenance)
    return fig


def duration_figure(table: pd.DataFrame, provenance: str) -> plt.Figure:
    return _paired_bars(table, "geomean_duration", "ci_low", "ci_high",
                        f"geometric mean duration per pass, seconds (error bars: {DURATION_INTERVAL})",
                        "Duration per strategy", provenance)


def memory_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if table["median_memory"].notna().sum() == 0:  # a --no-memory run
        return None
    return _paired_bars(table, "median_memory", "memory_ci_low", "memory_ci_high",
                        "peak memory of the pass's process (memray), MB"
                        f" (with 2+ memory passes, error bars: {DURATION_INTERVAL})",
                        "Peak memory per strategy", provenance)


def wal_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if "median_wal_per_row" not in table or table["median_wal_per_row"].notna().sum() == 0:
        return None
    return _paired_bars(table, "median_wal_per_row", "median_wal_per_row", "median_wal_per_row",
                        "WAL written per row (users + addresses), bytes, median of the passes",
                        "What each strategy costs the server: WAL per row", provenance)


def x_floor_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """x floor from the blocked model with its 95% interval, strategies labelled with their bands
    (letters: strategies sharing one cannot be told apart); the floor is the dashed line at 1x."""
    if "floor_ratio" not in table or table["floor_ratio"].notna().sum() == 0:
        return None
    shown = table[~table["reference"]].copy()
    bands = {(r.strategy, r.phase): r.band or "-" for r in shown.itertuples()}
    phases = phases_in(shown)
    shown["strategy"] = [f"{s}  [{' | '.join(bands.get((s, p), '-') for p in phases)}]" for s in shown["strategy"]]
    return _paired_bars(shown, "floor_ratio", "floor_ratio_low", "floor_ratio_high",
                        "duration as a multiple of the server-only floor (dashed line = 1x): blocked model\n"
                        "(log duration = strategy + round), error bars 95% t-interval of the ratio;\n"
                        f"[band {' | '.join(phases)}]: strategies sharing a letter cannot be told apart; "
                        "- not ranked (under 3 rounds)",
                        f"x floor  [band: {' | '.join(phases)}]",
                        provenance, marker_at=1.0)


def zscore_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """The original's z-scores of average duration and of average peak memory, as two dot
    columns sharing one row per strategy (ordered by duration), each phase a marker style: every
    label is on the axis, no leader line crosses another (as a scatter, two thirds
    of the strategies sat in one blob below z = -0.3)."""
    table = table[table["z_duration"].notna() & table["z_memory"].notna()]
    phases = phases_in(table)
    if not phases:  # a --no-memory run has no memory to score
        return None
    order = strategy_order(table, "z_duration")
    labels = strategy_labels(table)
    row = 0.3 * max(1, len(phases) / 2)  # inches per strategy: two phases' markers fit in 0.3
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 0.9 + row * len(order)), sharey=True)
    for ax, column, xlabel in ((axes[0], "z_duration", "z-score of average duration\n(< 0: faster than the average strategy)"),
                               (axes[1], "z_memory", "z-score of average peak memory\n(< 0: leaner than the average strategy)")):
        for offset, phase in zip(phase_offsets(len(phases), 0.3 if len(phases) <= 2 else 0.6 / len(phases)),
                                 phases):
            part = table[table["phase"] == phase].set_index("strategy").reindex(order)
            ax.scatter(part[column], np.arange(len(order)) + offset, s=22, color=phase_style(phase)["color"],
                       marker=PHASE_MARKERS.get(phase, "X"), edgecolor="black", linewidth=0.4, label=phase, zorder=3)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.axvspan(ax.get_xlim()[0], 0, color="#f0f0f0", zorder=0)
        ax.set_xlabel(xlabel)
    axes[0].set_yticks(range(len(order)), [labels[s] for s in order])
    axes[0].set_ylim(len(order) - 0.5, -0.5)
    axes[0].set_title("z-scores: duration | peak memory", loc="left")
    axes[1].legend(loc="lower right", frameon=True, fontsize=7.5)
    fig.subplots_adjust(wspace=0.08)
    add_provenance(fig, provenance)
    return fig


HEATMAP_STRATEGIES = 12  # beyond the fastest dozen, the ranking's gaps are factors, not questions


def heatmap_figure(pairs: pd.DataFrame, phase: str, provenance: str) -> plt.Figure | None:
    """Cliff's delta of row vs column durations; arrows where the blocked model's comparison of
    the pair is significant (simultaneous over all pairs: Bonferroni, significance.csv)."""
    part = pairs[(pairs["phase"] == phase) & (pairs["test"] == PAIR_TEST)]
    if part.empty:
        return None
    everyone = sorted(set(part["a"]) | set(part["b"]),
                      key=lambda s: np.nanmedian(list(part.loc[part["a"] == s, "median_a"])
                                                 + list(part.loc[part["b"] == s, "median_b"])))
    order = everyone[:HEATMAP_STRATEGIES]
    part = part[part["a"].isin(order) & part["b"].isin(order)]
    index = {s: i for i, s in enumerate(order)}
    delta = np.full((len(order), len(order)), np.nan)
    arrows = np.full(delta.shape, "", dtype=object)
    for row in part.itertuples():
        i, j = index[row.b], index[row.a]  # b is the slower one: delta(b vs a) >= 0
        delta[i, j], delta[j, i] = row.cliffs_delta, -row.cliffs_delta
        if row.significant == True:  # noqa: E712 (numpy or Python bool)
            arrows[i, j], arrows[j, i] = "▲", "▼"
    np.fill_diagonal(delta, 0.0)
    # one triangle (the other is its mirror): rows from the 2nd, columns up to the last but one
    marks = np.array([[f"{delta[i, j]:+.1f}{arrows[i, j]}" for j in range(len(order))]
                      for i in range(len(order))], dtype=object)[1:, :-1]  # the sign survives greyscale
    above = np.triu(np.ones(marks.shape, dtype=bool), k=1)
    size = 2.4 + 0.42 * len(order)
    fig, ax = plt.subplots(figsize=(size + 1.6, size))
    sns.heatmap(pd.DataFrame(delta[1:, :-1], index=order[1:], columns=order[:-1]), ax=ax, cmap="vlag",
                vmin=-1, vmax=1, mask=above, square=True, linewidths=0.3, linecolor="white", annot=marks, fmt="",
                annot_kws={"fontsize": 7, "color": "black"},
                cbar_kws={"label": "Cliff's delta, row vs column\n(+1: row always slower)", "shrink": 0.5})
    ax.grid(False)
    ax.figure.axes[-1].yaxis.label.set_size(8)
    ax.figure.axes[-1].tick_params(labelsize=7)
    too_few = part["p_adjusted"].isna().all()
    subtitle = ("too few rounds for comparisons: colours show effect size only" if too_few else
                "▲ row slower, ▼ faster: different in the blocked model's comparisons "
                "(simultaneous over all pairs, Bonferroni-adjusted p < 0.05)")
    shown = (f"the fastest {len(order)} of {len(everyone)}" if len(everyone) > len(order)
             else f"all {len(order)}")
    ax.set_title(f"{phase}: pairwise comparison of durations, {shown} strategies", loc="left",
                 fontsize=9, pad=16)
    ax.text(0, 1.012, subtitle, transform=ax.transAxes, fontsize=7, va="bottom", ha="left")
    ax.tick_params(labelsize=7)
    add_provenance(fig, provenance)
    return fig


def speed_vs_code_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """Median duration against lines of code (the comprehensibility proxy), per phase; points
    numbered in order of duration, the key beside the panels."""
    if "loc" not in table or table["loc"].notna().sum() == 0:
        return None
    part = table[~table["reference"] & table["median_duration"].notna() & table["loc"].notna()]
    phases = phases_in(part)
    order = part.groupby("strategy")["median_duration"].mean().sort_values().index.tolist()
    number = {s: str(i) for i, s in enumerate(order, start=1)}
    fig, axes, panels = phase_panels(phases, 5.4, 5.4, 2.6, sharey=True)
    for ax, phase in zip(panels, phases):
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
    for ax in axes[:, 0]:
        ax.set_ylabel("median duration per pass, seconds")
    key = "\n".join(f"{number[s]:>2}  {s}" for s in order)
    axes[0][-1].text(1.04, 1.0, key, transform=axes[0][-1].transAxes, fontsize=6.8, va="top",
                     family="DejaVu Sans Mono")
    fig.subplots_adjust(wspace=0.08, hspace=0.3)
    add_provenance(fig, provenance)
    return fig


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
