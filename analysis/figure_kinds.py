"""Every figure kind, declared once: its name (the prefix of its files), the function that draws
it, what one figure is drawn per, the table it reads, whether it is a headline figure (an SVG as
well as the PNG) and the question it answers. `build` draws from this list in its order (the
order REPORT.md shows them in), `publish` checks `--figures` against it, the figure folder's
clean-up matches its names, and docs/analysis.md's figure table is generated from it
(tests/test_analysis.py, `UPDATE_DOCS=1`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from analysis import distance_figures, figures, scaling_figures, skipping_figures, time_figures, versions_figures
from contract.workload import PHASES

PER = {  # what one figure of a kind is drawn per: (scope, its words in the docs)
    "configuration": "configuration",
    "servers": "items, threads and machine, where the runs hold several servers",
    "items": "server and thread count, where the runs hold several item counts",
    "threads": "server, where the runs hold several thread counts",
    "skipping": "configuration, where it holds a strategy that skips unchanged rows and the one it is a variant of",
    "distance": "items, threads and server, where the runs hold wire counts",
}


@dataclass(frozen=True)
class FigureKind:
    name: str  # files are <name>_<slug>.png (and .svg)
    draw: Callable[..., object]  # draw(rows of `reads`, ..., provenance=...) -> figure or None
    per: str  # a key of PER
    question: str  # what the figure answers, in a sentence or two (docs/analysis.md)
    reads: str = "aggregate"  # the table its rows come from: aggregate, significance, speedup, writes, distance
    headline: bool = False  # a figure for a paper or a post: an SVG too, text kept as text
    options: Mapping[str, object] = field(default_factory=dict)  # fixed keywords of `draw`
    formerly: tuple[str, ...] = ()  # earlier names: old set.json files and --figures still work

    def __call__(self, *args, **kwargs):
        return self.draw(*args, **self.options, **kwargs)


KINDS = (
    FigureKind("duration", figures.duration_figure, "configuration",
               "Which strategy is fastest? The geometric mean duration per pass with its 95% "
               "t-interval, the phases side by side", headline=True),
    FigureKind("memory", figures.memory_figure, "configuration",
               "Which is leanest? Peak memory of the pass's process (memray), the phases side by side"),
    FigureKind("x_floor", figures.x_floor_figure, "configuration",
               "How far is each strategy from what the server alone needs? Duration as a multiple of the "
               "server-only floor from the blocked model (log duration = strategy + round) with its 95% "
               "t-interval (the `floor_ratio` columns), strategies labelled with their bands (a shared "
               "letter: cannot be told apart)", headline=True,
               formerly=("floor_multiple",)),
    FigureKind("wal_per_row", figures.wal_figure, "configuration",
               "What does each strategy cost the server? WAL written per row"),
    FigureKind("zscores", figures.zscore_figure, "configuration",
               "The original's z-scores, as a two-panel dot plot: z of average duration and z of average "
               "peak memory, one row per strategy ordered by duration, each phase a marker style"),
    FigureKind("speed_vs_code", figures.speed_vs_code_figure, "configuration",
               "Does speed cost code? Median duration against lines of code "
               "([comprehensibility](#comprehensibility))"),
    FigureKind("time_split", time_figures.time_split_figure, "configuration",
               "Where does the time go? Each strategy's median duration split into the CPU time of its own "
               "process, the CPU time of the server's processes, and the rest (waiting: round trips, "
               "locks, I/O). CPU time is counted in 10 ms ticks, so CPU above wall time is called "
               "parallel work only beyond that resolution"),
    *(FigureKind(f"heatmap_{phase}", figures.heatmap_figure, "configuration",
                 f"Is a difference real ({phase})? Pairwise comparison of durations for the fastest "
                 f"{figures.HEATMAP_STRATEGIES} strategies, one triangle: each cell holds Cliff's delta of "
                 "row vs column; arrows mark the pairs the blocked model's comparisons call different "
                 "(simultaneous over all pairs, Bonferroni)",
                 reads="significance", options={"phase": phase}) for phase in PHASES),
    FigureKind("versions", versions_figures.versions_figure, "servers",
               "Does the ranking hold on another server? Each strategy on every PostgreSQL server the runs "
               "hold, side by side"),
    *(FigureKind(f"scaling_{metric}", scaling_figures.versus_items, "items",
                 f"How does {metric} grow with items? {label} against items, log-log, one row of panels "
                 f"per library, {legend} in the legend ([below](#scaling-sweep))",
                 options={"value": value, "ylabel": ylabel, "metric": metric})
      for metric, label, value, ylabel, legend in (
          ("duration", "Median duration", "median_duration", "median duration per pass, seconds",
           "each strategy's fixed cost (ms) and cost per item (µs) from `cost.csv`"),
          ("memory", "Peak memory", "median_memory", "peak memory, MB (memray)",
           "each strategy's fitted exponent"))),
    FigureKind("speedup", scaling_figures.speedup_figure, "threads",
               "Do threads help? Speed-up over the fewest threads, against the ideal min(threads, cores), "
               "with the interval its design allows: within rounds (thread counts interleaved in one run, "
               "blocked model) or between runs (Welch) ([below](#scaling-sweep))", reads="speedup"),
    FigureKind("skipping_wal", skipping_figures.skipping_wal_figure, "skipping",
               "What does skipping unchanged rows save? WAL written per row by phase, each strategy that skips "
               "unchanged rows (`*_skip_unchanged`) beside the one it is a variant of, the ratio above "
               "(`writes.csv`, [below](#what-skipping-unchanged-rows-saves))", reads="writes"),
    FigureKind("distance", distance_figures.distance_figure, "distance",
               "What does a strategy cost at your server's distance? Duration against round-trip time, "
               "log-log: per family of strategies (COPY, multi-row statements, one statement per row, ORM "
               "merge) its fastest at 1 ms in bold, the others thin, predicted as local duration + round "
               "trips x round-trip time, with the durations measured through the relay (`--latency`) and a "
               "star where the family becomes 10 times the fastest ([the wire](#at-a-distance))",
               reads="distance", headline=True),
)
BY_NAME = {kind.name: kind for kind in KINDS}
FORMER_NAMES = {old: kind.name for kind in KINDS for old in kind.formerly}


def per(scope: str) -> list[FigureKind]:
    """The kinds drawn once per `scope` (a key of PER), in the registry's order."""
    return [kind for kind in KINDS if kind.per == scope]


def current_names(names: list[str] | None) -> list[str] | None:
    """Figure kinds as a set.json or --figures names them, earlier names mapped to today's."""
    return None if names is None else [FORMER_NAMES.get(name, name) for name in names]


def markdown_table() -> str:
    """docs/analysis.md's table of figure kinds."""
    lines = ["| figure | drawn once per | SVG | what it answers |", "| --- | --- | --- | --- |"]
    lines += [f"| `{kind.name}_*` | {PER[kind.per]} | {'yes' if kind.headline else ''} | {kind.question} |"
              for kind in KINDS]
    return "\n".join(lines) + "\n"
