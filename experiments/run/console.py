"""What a run prints: the progress bar, one line per pass, the summary and contention tables."""

from __future__ import annotations

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

from contract.ranking import INTERVAL, Ranked, rank
from contract.row import PassRow, under_foreign_load
from contract.workload import PHASES
from experiments.catalog import Strategy, broken_rules


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


def pass_line(row: PassRow) -> str:
    where = f"{row.strategy} {row.phase} r{row.repeat}"
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


def summary_table(rows: list[PassRow]) -> Table:
    """Per server x phase, the strategies in ranking order (contract.ranking): rank band, median
    duration, `x floor` from within-repeat ratios with its interval, the CPU split, memory."""
    groups: dict[tuple, list[PassRow]] = defaultdict(list)
    for row in rows:
        groups[(row.server, row.phase, row.strategy)].append(row)
    ranking: dict[tuple, dict[str, Ranked]] = {}
    for server, phase in sorted({(r.server, r.phase) for r in rows}, key=lambda k: (k[0], PHASES.index(k[1]))):
        good = [(r.repeat, r.strategy, r.duration_s, r.reference) for r in rows
                if r.server == server and r.phase == phase and r.success]
        ranking[(server, phase)] = {entry.strategy: entry for entry in rank(good)}
    several_servers = len({row.server for row in rows}) > 1
    server_cpu = any(row.server_cpu_s is not None for row in rows)
    floors = any(entry.floor_ratio is not None for part in ranking.values() for entry in part.values())
    table = Table(title="Summary: medians of successful passes; rank bands and x floor (with its "
                        f"{INTERVAL}) from within-repeat comparisons; CPU of the strategy's process "
                        "during main() and of all server processes", title_justify="left")
    for column in ("server", "phase", "rank", "strategy", "ok", "duration s", "x floor", "client CPU s",
                   "server CPU s", "peak MB", "WAL MB"):
        if (column == "server" and not several_servers or column == "x floor" and not floors
                or column == "server CPU s" and not server_cpu):
            continue
        table.add_column(column, justify="left" if column in ("server", "phase", "strategy") else "right",
                         no_wrap=True)
    for (server, phase), ranked in ranking.items():
        order = list(ranked) + sorted({s for (sv, ph, s) in groups if (sv, ph) == (server, phase)} - set(ranked))
        for strategy in order:
            group = groups[(server, phase, strategy)]
            good = [r for r in group if r.success]
            entry = ranked.get(strategy)

            def fmt(key, scale=1.0, digits=1):
                value = _median([getattr(r, key) for r in good])
                return "-" if value is None else f"{value / scale:,.{digits}f}"
            band = entry.band if entry else "-"
            if entry and entry.below_floor:
                band = "below the floor: suspect"
            cells = [phase, band, strategy, f"{len(good)}/{len(group)}", fmt("duration_s", digits=3),
                     *([_floor_text(entry)] if floors else []), fmt("client_cpu_s", digits=3),
                     *([fmt("server_cpu_s", digits=3)] if server_cpu else []), fmt("peak_memory_mb"),
                     fmt("wal_bytes", 1e6)]
            suspect = entry is not None and entry.below_floor
            table.add_row(*([server] if several_servers else []), *cells,
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
