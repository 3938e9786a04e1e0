"""What a run prints: the progress bar, one line per pass, the summary and contention tables."""

from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from contract.ranking import (FAR_BELOW, FLOOR_INTERVAL, NOT_RANKED, Ranked, Ranking, below_floor_passes, rank,
                              wrote_less)
from contract.row import PassRow, under_foreign_load
from contract.workload import PHASES
from experiments.catalog import Strategy, broken_rules
from experiments.run.units import unit_of

log = logging.getLogger("experiments.runner")


def make_console() -> Console:
    """Rich console; when output is not a terminal (CI, a pipe) use a wide fixed width."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=200)


def progress_bar(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                    transient=True)


def print_broken_rules(console: Console, strategies: list[Strategy]) -> None:
    """At the start of a run, one line per static rule (docs/adding-a-strategy.md) a strategy
    about to run breaks. The strategy runs all the same: its passes verify what it wrote, and a
    seed-style file from the original project breaks R10 and R12 by design."""
    for broken in broken_rules(strategies):
        console.print(f"{broken}; running it anyway", style="yellow", markup=False, highlight=False,
                      soft_wrap=True)


def pass_line(row: PassRow, settings=None) -> str:
    """One line per pass, naming its unit in a run of several thread counts or latencies."""
    where = f"{row.strategy if settings is None else unit_of(row, settings)} {row.phase} r{row.repeat}"
    if not row.success:
        return f"[red]FAIL[/red] {where}: {row.error}"
    memory = f", {row.peak_memory_mb:.1f} MB peak" if row.peak_memory_mb is not None else ""
    return f"[green]ok[/green]   {where}: {row.duration_s:.3f} s{memory}"


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _floor_text(ranked: Ranked | None) -> str:
    if ranked is None or ranked.floor_ratio is None:
        return "-"
    if ranked.floor_low is None or math.isnan(ranked.floor_low):
        return f"{ranked.floor_ratio:,.2f}x"
    return f"{ranked.floor_ratio:,.2f}x ({ranked.floor_low:,.2f}-{ranked.floor_high:,.2f})"


def _latency_key(row: PassRow) -> float:
    """A row's latency as a sortable number: -1 for direct (no relay)."""
    return -1.0 if row.latency is None else row.latency


def _phase_passes(rows: list[PassRow], server: str, phase: str, threads: int | None = None,
                  latency: float | None = None) -> tuple[list[tuple], frozenset[str]]:
    """(block, strategy, seconds, reference) of one server's successful passes of one phase (a
    block: one repeat), at one thread count and latency (`_latency_key`) when given, and the
    strategies that may beat the floor (several connections, or under half its WAL)."""
    good = [r for r in rows if r.server == server and r.phase == phase and r.success
            and (threads is None or r.threads == threads) and (latency is None or _latency_key(r) == latency)]
    connections: dict[str, list[int]] = defaultdict(list)
    for r in good:
        if r.connections is not None:
            connections[r.strategy].append(r.connections)
    parallel = frozenset(s for s, counts in connections.items() if statistics.median(counts) > 1)
    wal: dict[str, list[float]] = defaultdict(list)
    for r in good:
        wal[r.strategy].append(r.wal_bytes)
    may_beat = parallel | wrote_less(wal, {r.strategy for r in good if r.reference})
    return [(r.repeat, r.strategy, r.duration_s, r.reference) for r in good], may_beat


def phase_ranking(rows: list[PassRow], server: str, phase: str, threads: int | None = None,
                  latency: float | None = None) -> Ranking:
    """contract.ranking over one server's successful passes of one phase (at one thread count and
    latency: a run interleaving several ranks each apart, as the analysis's configurations do)."""
    passes, parallel = _phase_passes(rows, server, phase, threads, latency)
    return rank(passes, parallel=parallel)


def log_below_floor(rows: list[PassRow]) -> int:
    """Name in the run log every single-connection pass far below the floor's pass of its round
    (contract.ranking.below_floor_passes); returns how many."""
    count = 0
    for server, phase, threads, latency in sorted({(r.server, r.phase, r.threads, _latency_key(r)) for r in rows}):
        for block, strategy, ratio in below_floor_passes(*_phase_passes(rows, server, phase, threads, latency)):
            log.warning("%s %s repeat %s on %s took %.2fx the floor's pass of its round: below the floor "
                        "on one connection (noise, or a measurement problem)", strategy, phase, block, server, ratio)
            count += 1
    return count


def summary_table(rows: list[PassRow]) -> Table:
    """Per server x thread count x latency x phase, the strategies in ranking order
    (contract.ranking, the blocked model): rank, band, median duration, `x floor` with its
    interval, the CPU split, memory, round trips."""
    groups: dict[tuple, list[PassRow]] = defaultdict(list)
    for row in rows:
        groups[(row.server, row.threads, _latency_key(row), row.phase, row.strategy)].append(row)
    ranking = {key: phase_ranking(rows, key[0], key[3], key[1], key[2]).by_strategy()
               for key in sorted({(r.server, r.threads, _latency_key(r), r.phase) for r in rows},
                                 key=lambda k: (k[0], k[1], k[2], PHASES.index(k[3])))}
    several_servers = len({row.server for row in rows}) > 1
    several_threads = len({row.threads for row in rows}) > 1
    several_latencies = len({_latency_key(row) for row in rows}) > 1
    wire = any(row.round_trips is not None for row in rows)
    server_cpu = any(row.server_cpu_s is not None for row in rows)
    floors = any(entry.floor_ratio is not None for part in ranking.values() for entry in part.values())
    table = Table(title="Summary: medians of successful passes. Rank (places a strategy could take) and "
                        "band (a shared letter: cannot be told apart) from comparisons simultaneous over "
                        f"all pairs; x floor with its {FLOOR_INTERVAL}; CPU during main() of the "
                        "strategy's process and of its server backends", title_justify="left")
    for column in ("server", "threads", "latency", "phase", "rank", "band", "strategy", "ok", "duration s",
                   "x floor", "client CPU s", "server CPU s", "peak MB", "WAL MB", "round trips"):
        if (column == "server" and not several_servers or column == "threads" and not several_threads
                or column == "latency" and not several_latencies or column == "x floor" and not floors
                or column == "server CPU s" and not server_cpu or column == "round trips" and not wire):
            continue
        table.add_column(column, justify="left" if column in ("server", "phase", "strategy") else "right",
                         no_wrap=True)
    for (server, threads, latency, phase), ranked in ranking.items():
        order = list(ranked) + sorted({s for (*setup, s) in groups if tuple(setup) == (server, threads, latency, phase)}
                                      - set(ranked))
        for strategy in order:
            group = groups[(server, threads, latency, phase, strategy)]
            good = [r for r in group if r.success]
            entry = ranked.get(strategy)

            def fmt(key, scale=1.0, digits=1):
                value = _median([getattr(r, key) for r in good])
                return "-" if value is None else f"{value / scale:,.{digits}f}"
            place = entry.rank if entry else NOT_RANKED
            if entry and entry.suspect:
                place = "below the floor: suspect"
            elif entry and entry.below_floor:
                place += " (below the floor)"
            cells = [phase, place, (entry.band if entry else "") or "-", strategy, f"{len(good)}/{len(group)}",
                     fmt("duration_s", digits=3),
                     *([_floor_text(entry)] if floors else []), fmt("client_cpu_s", digits=3),
                     *([fmt("server_cpu_s", digits=3)] if server_cpu else []), fmt("peak_memory_mb"),
                     fmt("wal_bytes", 1e6), *([fmt("round_trips", digits=0)] if wire else [])]
            suspect = entry is not None and entry.suspect
            shown = "direct" if latency < 0 else f"+{latency:g} ms"
            table.add_row(*([server] if several_servers else []), *([str(threads)] if several_threads else []),
                          *([shown] if several_latencies else []), *cells,
                          style="red" if len(good) < len(group) or suspect else "")
    return table


def contention_table(rows: list[PassRow]) -> Table:
    """Per server x strategy, what the contended update passes ended as: passes ok, what the
    strategy raised, rows the contender won, torn rows (neither writer's values: must be 0) and
    the contender's retries and errors (sums over repeats, except rows won: median)."""
    groups: dict[tuple, list[PassRow]] = defaultdict(list)
    for row in rows:
        if row.contention:
            groups[(row.server, row.strategy)].append(row)
    several_servers = len({server for server, _ in groups}) > 1
    table = Table(title="Contention (update pass against a second writer on the same keys)")
    for column in ("server", "strategy", "ok", "strategy raised", "torn rows", "rows won by contender",
                   "contender retries", "contender errors"):
        if column != "server" or several_servers:
            table.add_column(column, justify="left" if column in ("server", "strategy", "strategy raised")
                             else "right", no_wrap=True)

    def total(group, key):
        values = [getattr(r, key) for r in group if getattr(r, key) is not None]
        return "-" if not values else f"{sum(values):,}"

    for (server, strategy), group in sorted(groups.items()):
        ok = sum(1 for r in group if r.success)
        raised = ", ".join(sorted({r.error_kind for r in group if r.error_kind})) or "-"
        won = [r.rows_won_by_contender for r in group if r.rows_won_by_contender is not None]
        torn = total(group, "torn_rows")
        table.add_row(*([server] if several_servers else []), strategy, f"{ok}/{len(group)}", raised, torn,
                      f"{statistics.median(won):,.0f}" if won else "-", total(group, "contender_retries"),
                      total(group, "contender_errors"),
                      style="" if ok == len(group) and torn in ("0", "-") else "red")
    return table


def print_summary(console: Console, rows: list[PassRow], log_path, results_path, unstable=()) -> None:
    if not rows:
        return
    console.print(summary_table(rows))
    below = log_below_floor(rows)
    if below:
        console.print(f"[yellow]{below} pass(es) below the floor[/yellow]: single-connection passes more than "
                      f"{1 - FAR_BELOW:.0%} faster than the floor's pass of their round (named in {log_path})")
    print_foreign_load(console, rows)
    if unstable:
        console.print("[yellow]unstable[/yellow] (durations vary by more than 10%: rerun on a quieter machine "
                      "or with more repeats before trusting their ranks): "
                      + ", ".join(f"{strategy} {phase} {100 * cv:.0f}%" + (f" on {server}" if len({u[0] for u in unstable}) > 1 else "")
                                  for server, strategy, phase, cv in unstable))
    if any(r.contention for r in rows):
        console.print(contention_table(rows))
    failed = [r for r in rows if not r.success]
    if failed:
        console.print(f"{len(failed)} of {len(rows)} passes failed; reasons are in the "
                      f"error column and {log_path}")
    console.print(f"results: {results_path}")


def print_foreign_load(console: Console, rows: list[PassRow]) -> None:
    """One line after the summary table when passes ran under foreign load (other processes took
    more than 10% of a core meanwhile: contract.row.under_foreign_load); run.log names them."""
    suspect = [r for r in rows if under_foreign_load(r.foreign_cpu_s, r.wall_s)]
    if suspect:
        console.print(f"[yellow]foreign load[/yellow]: {len(suspect)} of {len(rows)} passes ran while other "
                      "processes took more than 10% of a CPU core (foreign_cpu_s); their durations are "
                      "suspect: run on a quiet machine (run.log names them)")
