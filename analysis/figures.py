"""Static figures (PNG at PNG_DPI; SVG as well for the headline figures), one set per configuration.

Readable in print and in greyscale: the colour-blind-safe seaborn palette, insert and update
told apart by lightness *and* hatching, strategies ordered by median duration, log scales where
the range spans more than a factor of 20, duration bars = the geometric mean with its 95%
t-interval (analysis.stats),
failed passes written next to their strategy in red, and a provenance line on every figure.
Output is byte-identical for identical input (fixed SVG hash salt, no dates in metadata).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from analysis.stats import DURATION_INTERVAL

PHASE_STYLE = {  # colour-blind palette entries of clearly different lightness, plus hatching
    "insert": {"color": sns.color_palette("colorblind")[0], "hatch": ""},
    "update": {"color": sns.color_palette("colorblind")[1], "hatch": "////"},
}
FLOOR_LABEL = " (floor)"


def setup_style() -> None:
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.05)
    plt.rcParams.update({
        "svg.hashsalt": "postgres-upsert-bench",  # stable element ids in SVG
        "svg.fonttype": "none",  # text stays text: a tenth of the bytes, searchable, editable
        "hatch.linewidth": 0.6,
        "font.family": "DejaVu Sans",
        "axes.titleweight": "bold",
    })


HEADLINE = ("duration", "floor_multiple")  # the figures that also get an SVG
PNG_DPI = 120  # sharp on screen (1,000-1,700 px wide); a paper takes the SVG


def save(fig: plt.Figure, out: Path, name: str) -> list[Path]:
    """PNG at PNG_DPI, losslessly optimised (Pillow); SVG (text kept as text) for headline figures."""
    paths = [out / f"{name}.png"]
    fig.savefig(paths[0], dpi=PNG_DPI, bbox_inches="tight", metadata={"Software": None},
                pil_kwargs={"optimize": True})
    if name.startswith(HEADLINE):
        paths.append(out / f"{name}.svg")
        fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return paths


def _provenance(fig: plt.Figure, text: str) -> None:
    """A small grey line under everything already drawn (tick labels, axis labels, colour bars)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
    y = fig.transFigure.inverted().transform((0, bottom))[1]
    width = int(fig.get_size_inches()[0] * 72 / (6.5 * 0.56))  # characters of 6.5 pt that fit across
    fig.text(0.0, y - 0.01, textwrap.fill(text, width, break_on_hyphens=False), fontsize=6.5,
             color="#555555", ha="left", va="top", transform=fig.transFigure)


def headline(fig: plt.Figure, text: str) -> None:
    """The configuration, bold, above everything drawn (titles, legends): a figure read alone
    (in a blog, a slide) still says what was measured."""
    fig.canvas.draw()
    top = fig.get_tightbbox(fig.canvas.get_renderer()).y1 * fig.dpi  # inches -> display units
    y = fig.transFigure.inverted().transform((0, top))[1]
    fig.text(0.0, y + 0.01, text, fontsize=9.5, fontweight="bold", ha="left", va="bottom",
             transform=fig.transFigure)


def _labels(table: pd.DataFrame) -> dict[str, str]:
    return {s: s + (FLOOR_LABEL if ref else "") for s, ref in
            table.groupby("strategy")["reference"].any().items()}


def strategy_order(table: pd.DataFrame, column: str = "median_duration") -> list[str]:
    """Strategies by the mean over phases of `column` (failed-everywhere ones last)."""
    means = table.groupby("strategy")[column].mean()
    return list(means.sort_values(na_position="last", kind="stable").index)


def log_ticks(axis) -> None:
    """Ticks at 1, 2, 5 x 10^k on a log axis, labelled in short numbers, no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _short_number(v)))
    axis.set_minor_formatter(NullFormatter())


def _short_number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _log_if_wide(ax, values) -> bool:
    values = np.asarray([v for v in values if np.isfinite(v) and v > 0])
    if len(values) and values.max() / values.min() > 20:
        ax.set_xscale("log")
        return True
    return False


def _failure_notes(ax, table: pd.DataFrame, order: list[str], x_text: float) -> None:
    for i, strategy in enumerate(order):
        rows = table[table["strategy"] == strategy]
        failed = {r.phase: (int(r.n - r.n_ok), int(r.n)) for r in rows.itertuples() if r.n_ok < r.n}
        if failed:
            text = "FAILED " + ", ".join(f"{phase} {k}/{n}" for phase, (k, n) in sorted(failed.items()))
            ax.text(x_text, i, text, color="#c00000", fontsize=7, va="center", ha="left",
                    fontweight="bold", transform=ax.get_yaxis_transform())


def _paired_bars(table: pd.DataFrame, value: str, low: str, high: str, xlabel: str, title: str,
                 provenance: str, marker_at: float | None = None) -> plt.Figure:
    """Horizontal bars, insert and update side by side per strategy, with CI error bars,
    strategies ordered by `value` (the mean of their two phases' medians)."""
    order = strategy_order(table, value)
    labels = _labels(table)
    fig, ax = plt.subplots(figsize=(8.5, 0.55 + 0.36 * len(order) + 0.9))
    height = 0.38
    for offset, phase in ((-height / 2, "insert"), (height / 2, "update")):
        part = table[table["phase"] == phase].set_index("strategy").reindex(order)
        y = np.arange(len(order)) + offset
        values = part[value].to_numpy(dtype=float)
        err_low = np.clip(values - part[low].to_numpy(dtype=float), 0, None)
        err_high = np.clip(part[high].to_numpy(dtype=float) - values, 0, None)
        errors = np.nan_to_num(np.vstack([err_low, err_high]))
        style = PHASE_STYLE[phase]
        ax.barh(y, np.nan_to_num(values), height=height, color=style["color"], hatch=style["hatch"],
                edgecolor="black", linewidth=0.4, label=phase, xerr=errors,
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "black"})
        for yi, v, hi in zip(y, values, part[high].to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.annotate(_short_number(v), xy=(max(v, hi) if np.isfinite(hi) else v, yi),
                            xytext=(3, 0), textcoords="offset points", va="center", fontsize=6.5)
    if _log_if_wide(ax, table[value]):
        log_ticks(ax.xaxis)
    ax.set_xlim(right=ax.get_xlim()[1] * (1.6 if ax.get_xscale() == "log" else 1.12))
    if marker_at is not None:
        if ax.get_xlim()[0] > marker_at:  # every bar far above the marker: keep the marker in view
            ax.set_xlim(left=marker_at * 0.9 if ax.get_xscale() == "log" else 0)
        ax.axvline(marker_at, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(order)), [labels[s] for s in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False, fontsize=8)
    _failure_notes(ax, table, order, 1.01)
    _provenance(fig, provenance)
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


def floor_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """x floor from within-repeat ratios (geometric mean, 95% t-interval), strategies labelled
    with their rank bands; the floor itself is the dashed line at 1x."""
    if "floor_ratio" not in table or table["floor_ratio"].notna().sum() == 0:
        return None
    shown = table[~table["reference"]].copy()
    bands = {(r.strategy, r.phase): r.rank_band for r in shown.itertuples()}
    shown["strategy"] = [f"{s}  [{bands.get((s, 'insert'), '-')} | {bands.get((s, 'update'), '-')}]"
                         for s in shown["strategy"]]
    return _paired_bars(shown, "floor_ratio", "floor_ratio_low", "floor_ratio_high",
                        "duration as a multiple of the server-only floor (dashed line = 1x):\ngeometric mean "
                        "of within-repeat ratios, error bars 95% t-interval",
                        "x floor  [rank band: insert | update]",
                        provenance, marker_at=1.0)


def zscore_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """The original's z-scores of average duration and of average peak memory, as two dot
    columns sharing one row per strategy (ordered by duration), insert and update as two marker
    styles: every label is on the axis, no leader line crosses another (as a scatter, two thirds
    of the strategies sat in one blob below z = -0.3)."""
    table = table[table["z_duration"].notna() & table["z_memory"].notna()]
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    if not phases:  # a --no-memory run has no memory to score
        return None
    order = strategy_order(table, "z_duration")
    labels = _labels(table)
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 0.9 + 0.3 * len(order)), sharey=True)
    markers = {"insert": "o", "update": "s"}
    for ax, column, xlabel in ((axes[0], "z_duration", "z-score of average duration\n(< 0: faster than the average strategy)"),
                               (axes[1], "z_memory", "z-score of average peak memory\n(< 0: leaner than the average strategy)")):
        for offset, phase in zip((-0.15, 0.15), phases):
            part = table[table["phase"] == phase].set_index("strategy").reindex(order)
            style = PHASE_STYLE[phase]
            ax.scatter(part[column], np.arange(len(order)) + offset, s=22, color=style["color"],
                       marker=markers[phase], edgecolor="black", linewidth=0.4, label=phase, zorder=3)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.axvspan(ax.get_xlim()[0], 0, color="#f0f0f0", zorder=0)
        ax.set_xlabel(xlabel)
    axes[0].set_yticks(range(len(order)), [labels[s] for s in order])
    axes[0].set_ylim(len(order) - 0.5, -0.5)
    axes[0].set_title("z-scores: duration | peak memory", loc="left")
    axes[1].legend(loc="lower right", frameon=True, fontsize=7.5)
    fig.subplots_adjust(wspace=0.08)
    _provenance(fig, provenance)
    return fig


HEATMAP_STRATEGIES = 12  # beyond the fastest dozen, the ranking's gaps are factors, not questions


def heatmap_figure(pairs: pd.DataFrame, phase: str, provenance: str) -> plt.Figure | None:
    """Cliff's delta of row vs column durations; arrows where a tested pair's Holm-corrected
    p < 0.05 (only the pairs significance.py tests: against the floor, neighbours, key pairs)."""
    part = pairs[(pairs["phase"] == phase) & (pairs["test"] != "kruskal-wallis")]
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
    too_few = part["p_holm"].isna().all()
    subtitle = ("too few repeats for tests: colours show effect size only" if too_few else
                "▲ row significantly slower, ▼ faster (paired t-test on log durations within repeats, "
                "Holm-corrected p < 0.05; tested pairs only: vs the floor, neighbours, key pairs)")
    shown = (f"the fastest {len(order)} of {len(everyone)}" if len(everyone) > len(order)
             else f"all {len(order)}")
    ax.set_title(f"{phase}: pairwise comparison of durations, {shown} strategies", loc="left",
                 fontsize=9, pad=16)
    ax.text(0, 1.012, subtitle, transform=ax.transAxes, fontsize=7, va="bottom", ha="left")
    ax.tick_params(labelsize=7)
    _provenance(fig, provenance)
    return fig


def versions_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    """Median duration per strategy on each PostgreSQL server (version and backend) of the same
    items/threads/machine, side by side per phase (version matrix runs)."""
    table = table.assign(server=table["pg_version"].astype(str) + " " + table["backend"].astype(str))
    versions = sorted(table["server"].unique(),
                      key=lambda v: [int(x) if x.isdigit() else x for x in v.replace("-", ".").replace(" ", ".").split(".")])
    if len(versions) < 2:
        return None
    order = strategy_order(table)
    labels = _labels(table)
    palette = sns.color_palette("colorblind", len(versions))
    hatches = ["", "////", "....", "xxxx", "\\\\", "oo"]
    phases = [p for p in ("insert", "update") if p in set(table["phase"])]
    fig, axes = plt.subplots(1, len(phases), figsize=(7.0 * len(phases), 0.9 + 0.42 * len(order) + 0.9),
                             squeeze=False, sharey=True)
    height = 0.8 / len(versions)
    for ax, phase in zip(axes[0], phases):
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
        if _log_if_wide(ax, table["median_duration"]):
            log_ticks(ax.xaxis)
        ax.set_yticks(range(len(order)), [labels[s] for s in order])
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_xlabel(f"seconds per pass, geometric mean\n(error bars: {DURATION_INTERVAL})")
        ax.set_title(f"{phase}: PostgreSQL versions side by side", loc="left")
    handles, labels = axes[0][0].get_legend_handles_labels()
    top = max(ax.get_position().y1 for ax in axes[0])
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, top + 0.022), ncol=len(versions),
               frameon=False, fontsize=8)  # above the panels' titles, centred: never on them
    _provenance(fig, provenance)
    return fig


FIGURES: dict[str, Callable] = {
    "duration": duration_figure,
    "memory": memory_figure,
    "floor_multiple": floor_figure,
    "wal_per_row": wal_figure,
    "zscores": zscore_figure,
}
