"""How every figure looks, whatever it answers: the style, the phase colours, the headline and
the provenance line, strategy order and labels, log ticks, and saving (PNG at PNG_DPI; SVG as
well for the headline figures).

Readable in print and in greyscale: the colour-blind-safe seaborn palette, the phases (insert,
update, mixed, unchanged: those present, in contract.workload.PHASES order) told apart by
lightness *and* hatching (marker shapes in dot plots), strategies ordered by median duration,
log scales where the range spans more than a factor of 20, and a provenance line on every figure.
Output is byte-identical for identical input (fixed SVG hash salt, no dates in metadata).
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from analysis.load import ordered_phases  # noqa: E402

PHASE_STYLE = {  # colour-blind palette entries of clearly different lightness, plus hatching
    "insert": {"color": sns.color_palette("colorblind")[0], "hatch": ""},  # dark blue
    "update": {"color": sns.color_palette("colorblind")[1], "hatch": "////"},  # orange
    "mixed": {"color": sns.color_palette("colorblind")[2], "hatch": "\\\\\\\\"},  # green, the other diagonal
    "unchanged": {"color": sns.color_palette("colorblind")[8], "hatch": "...."},  # pale yellow, dotted
}
OTHER_PHASE = {"color": "#bbbbbb", "hatch": "xxxx"}  # a phase this code does not know
PHASE_MARKERS = {"insert": "o", "update": "s", "mixed": "^", "unchanged": "D"}
FLOOR_LABEL = " (floor)"


def phase_style(phase: str) -> dict:
    return PHASE_STYLE.get(phase, OTHER_PHASE)


def phases_in(table: pd.DataFrame) -> list[str]:
    """The phases a table holds, in PHASES order."""
    return ordered_phases(table["phase"]) if "phase" in table else []


def phase_offsets(count: int, step: float) -> list[float]:
    """Where the bars or markers of `count` phases sit around their strategy's row, `step`
    apart, centred (two phases: -step/2 and +step/2)."""
    return [(k - (count - 1) / 2) * step for k in range(count)]


def phase_panels(phases: list[str], width: float, height: float, extra_width: float = 0.0, **kwargs):
    """One panel per phase: side by side for one or two phases, else two columns of them (four
    panels in a row would not be readable at the published size). (figure, its axes grid, the
    panels in phase order); a grid's spare panel is removed."""
    columns = len(phases) if len(phases) <= 2 else 2
    rows = math.ceil(len(phases) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns + extra_width, height * rows),
                             squeeze=False, **kwargs)
    panels = list(axes.flat)
    for spare in panels[len(phases):]:
        fig.delaxes(spare)
    return fig, axes, panels[:len(phases)]


def setup_style() -> None:
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.05)
    plt.rcParams.update({
        "svg.hashsalt": "postgres-upsert-bench",  # stable element ids in SVG
        "svg.fonttype": "none",  # text stays text: a tenth of the bytes, searchable, editable
        "hatch.linewidth": 0.6,
        "font.family": "DejaVu Sans",
        "axes.titleweight": "bold",
    })


PNG_DPI = 120  # sharp on screen (1,000-1,700 px wide); a paper takes the SVG
PNG_COLOURS = 256


def save(fig: plt.Figure, out: Path, name: str, svg: bool = False) -> list[Path]:
    """PNG at PNG_DPI in PNG_COLOURS colours (a figure's flat colours and anti-aliased edges fit:
    a third of the bytes of true colour, so a published set stays small); with `svg` (headline
    figures) an SVG as well, text kept as text."""
    paths = [out / f"{name}.png"]
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=PNG_DPI, bbox_inches="tight", metadata={"Software": None})
    image = Image.open(rendered).convert("RGB")  # opaque: the figures have a white background
    image.quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        paths[0], format="PNG", optimize=True)
    if svg:
        paths.append(out / f"{name}.svg")
        fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return paths


def add_provenance(fig: plt.Figure, text: str) -> None:
    """A small grey line under everything already drawn (tick labels, axis labels, colour bars)."""
    fig.draw_without_rendering()  # layout and text sizes, no pixels: the PNG is drawn once, by save()
    renderer = fig.canvas.get_renderer()
    bottom = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
    y = fig.transFigure.inverted().transform((0, bottom))[1]
    width = int(fig.get_size_inches()[0] * 72 / (6.5 * 0.56))  # characters of 6.5 pt that fit across
    fig.text(0.0, y - 0.01, textwrap.fill(text, width, break_on_hyphens=False), fontsize=6.5,
             color="#555555", ha="left", va="top", transform=fig.transFigure)


def headline(fig: plt.Figure, text: str) -> None:
    """The configuration, bold, above everything drawn (titles, legends): a figure read alone
    (in a blog, a slide) still says what was measured."""
    fig.draw_without_rendering()  # layout and text sizes, no pixels: the PNG is drawn once, by save()
    top = fig.get_tightbbox(fig.canvas.get_renderer()).y1 * fig.dpi  # inches -> display units
    y = fig.transFigure.inverted().transform((0, top))[1]
    fig.text(0.0, y + 0.01, text, fontsize=9.5, fontweight="bold", ha="left", va="bottom",
             transform=fig.transFigure)


def strategy_labels(table: pd.DataFrame) -> dict[str, str]:
    return {s: s + (FLOOR_LABEL if ref else "") for s, ref in
            table.groupby("strategy")["reference"].any().items()}


def strategy_order(table: pd.DataFrame, column: str = "median_duration") -> list[str]:
    """Strategies by the mean over phases of `column` (failed-everywhere ones last)."""
    means = table.groupby("strategy")[column].mean()
    return list(means.sort_values(na_position="last", kind="stable").index)


def log_ticks(axis) -> None:
    """Ticks at 1, 2, 5 x 10^k on a log axis, labelled in short numbers, no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    axis.set_minor_formatter(NullFormatter())


def short_number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def log_if_wide(ax, values) -> bool:
    values = np.asarray([v for v in values if np.isfinite(v) and v > 0])
    if len(values) and values.max() / values.min() > 20:
        ax.set_xscale("log")
        return True
    return False
