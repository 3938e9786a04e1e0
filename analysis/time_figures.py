"""Where the time goes: each strategy's median duration split into the CPU time of its own
process during `main()`, the CPU time of its server backends, of the server's background
processes, and the rest (waiting: round trips, locks, disk). Same conventions as every figure
(`figure_style`): colour-blind palette, hatching as well as colour, provenance line,
byte-identical output."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis.figure_style import add_provenance, phase_panels, phases_in, strategy_labels, strategy_order

SERVER = {  # the server CPU column's meaning, by whether the runs split off the background
    True: "server CPU (the strategy's backends, during main())",
    False: "server CPU (all PostgreSQL processes, around the pass)",
}
PARTS = (  # (column, label, colour index in the colour-blind palette, hatch); None: SERVER's
    ("median_client_cpu_s", "client CPU (the strategy's process)", 0, ""),
    ("median_server_cpu_s", None, 2, ""),
    ("median_background_cpu_s", "server background (checkpointer, WAL writer, autovacuum)", 4, "...."),
    ("median_other_s", "neither: waiting (round trips, locks, I/O)", 7, "////"),
)


TICK_S = 0.01  # the kernel accounts a process's CPU time in clock ticks (USER_HZ = 100)


def _part(value) -> float:
    return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else max(float(value), 0.0)


def shares(row) -> tuple[list[float], bool]:
    """The four parts as fractions of the duration, and whether CPU clearly exceeded the
    duration (work in parallel: threads, or client and server busy at once). When the CPU parts
    add up to more than the duration they are shares of their sum and nothing is left for
    waiting; only an excess beyond the accounting's resolution (a tick per server process, and
    10%) counts as parallel work. Runs before the background was split off count it as 0."""
    client, server = _part(row.median_client_cpu_s), _part(row.median_server_cpu_s)
    background = _part(getattr(row, "median_background_cpu_s", None))
    duration = row.median_duration
    cpu = client + server + background
    if cpu > duration:
        return [client / cpu, server / cpu, background / cpu, 0.0], cpu > 1.1 * duration + 2 * TICK_S
    return [client / duration, server / duration, background / duration, 1 - cpu / duration], False


def time_split_figure(table: pd.DataFrame, provenance: str) -> plt.Figure | None:
    if "median_client_cpu_s" not in table or table["median_server_cpu_s"].notna().sum() == 0:
        return None  # runs without the CPU columns, or a --dsn server
    usable = table[table["median_duration"].notna() & table["median_client_cpu_s"].notna()
                   & table["median_server_cpu_s"].notna()]
    split = "median_background_cpu_s" in usable and usable["median_background_cpu_s"].notna().any()
    order = strategy_order(usable)
    labels = strategy_labels(usable)
    phases = phases_in(usable)
    palette = sns.color_palette("colorblind")
    height = 0.9 + 0.3 * len(order)  # a row of panels
    fig, axes, panels = phase_panels(phases, 5.2, height, 2.4, sharey=True)
    for ax, phase in zip(panels, phases):
        part = usable[usable["phase"] == phase].set_index("strategy")
        for y, strategy in enumerate(order):
            if strategy not in part.index:
                continue
            row = part.loc[strategy]
            fractions, parallel = shares(row)
            left = 0.0
            for (column, label, colour, hatch), width in zip(PARTS, fractions):
                if column == "median_background_cpu_s" and not split:
                    continue
                label = label or SERVER[split]
                ax.barh(y, width * 100, left=left, height=0.7, color=palette[colour], hatch=hatch,
                        edgecolor="black", linewidth=0.4, label=label if y == 0 else None)
                left += width * 100
            note = f"{row.median_duration:.3g} s" + ("  CPU > wall" if parallel else "")
            ax.text(101, y, note, va="center", fontsize=6.5)
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of the median duration, %")
        ax.set_title(f"{phase}: where the time goes", loc="left")
    axes[0][0].set_yticks(range(len(order)), [labels[s] for s in order])
    axes[0][0].set_ylim(len(order) - 0.5, -0.5)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=2 if split else 3, frameon=False,
               fontsize=7.5)
    fig.subplots_adjust(wspace=0.35, hspace=1.5 / height, top=1 - (0.75 if split else 0.55) / (height * len(axes)))
    add_provenance(fig, provenance + " · medians of successful passes; CPU time is counted in 10 ms ticks; "
                "'CPU > wall': CPU beyond the duration (work ran in parallel), parts as shares of their sum")
    return fig
