"""The benchmark run: servers x repeats x strategies (shuffled, seeded) x phases.

For every pass (strategy x phase x repeat) the runner
1. puts the tables in the pass's starting state (`schema.prepare_pass`, untimed);
2. runs the strategy under `memray run` in a fresh process for peak memory and allocations,
   then verifies the tables (skipped with MEASURE_MEMORY=0);
3. restores the same starting state and runs it again in a plain process for the duration
   (memray's tracking would inflate it), with the server's WAL and tuple counters read around
   it, then verifies the tables again;
4. appends one row to `results.csv`, flushed at once.
A pass that raises, exits non-zero, hangs past the timeout or writes a wrong value becomes a
failed row with a one-line reason, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from experiments import (GO_FILE_ENV, OWNER_FILE, REPO_ROOT, SCRATCH_DIR_PREFIX, contention, manifest,
                         schema, server_stats)
from experiments.catalog import Strategy, discover, select
from experiments.config import Settings, ignored_environment_note
from experiments.memory import memray_command, read_capture
from experiments.process import ProcessOutcome, child_env, run_worker
from experiments.rundir import (RunFolder, RunFolderError, check_results_dir, git_diff_text, git_state,
                               new_run_id)
from experiments.errors import UsageError
from experiments.servers import (MIN_MAJOR, ServerOptions, ServerSpec, Target, connect_error, open_target,
                                 parse_pg, parse_pg_settings)
from experiments.verify import Verification, verify
from experiments.workload import PHASES, Workload

log = logging.getLogger("experiments.runner")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


class ServerLost(Exception):
    """The server of the run went away mid-pass: that pass is recorded as failed and the run
    stops with exit status 1 (a restarted server would mix a cold cache into the numbers)."""


class _QuietFileHandler(logging.FileHandler):
    """run.log's handler: a write that fails (disk full) drops the record instead of printing
    a traceback; the run reports the full disk itself, in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


def _raise_interrupted(signum, frame):
    raise Interrupted()


class Runner:
    def __init__(self, settings: Settings, console: Console | None = None):
        self.settings = settings
        self.console = console or make_console()
        folder = settings.path(settings.strategies_dir)
        self.strategies: list[Strategy] = select(discover(folder), settings.strategies)
        self.specs: list[ServerSpec] = (
            [ServerSpec("dsn")] if settings.database_url else parse_pg(settings.pg, settings.pg_bin)
        )
        self.server_options = ServerOptions(parse_pg_settings(settings.pg_settings), settings.pg_bin,
                                            settings.schema, settings.keep_schema)
        self.seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.run_id = new_run_id()
        self.application = f"upsert-bench:{self.run_id}"  # application_name of every worker session
        self.folder: RunFolder | None = None
        self.rows: list[dict] = []
        self.servers: list[dict] = []
        self.started_at = datetime.now(timezone.utc)
        check_results_dir(settings.path(settings.results_dir))  # before anything needs removing
        self.scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_DIR_PREFIX))
        (self.scratch / OWNER_FILE).write_text(str(os.getpid()))
        self.checkpoint_ok = True
        self.sweep: dict | None = None  # set by experiments.sweep for a grid point
        self.git = git_state()  # at the start: the code that ran, not what it became later

    # -- the whole run ---------------------------------------------------------------
    def run(self) -> int:
        """Run everything; 0 when every pass succeeded, 1 when one failed or the run had to stop
        (its server went away, the run folder could not be written), 130 when interrupted."""
        note = ignored_environment_note(self.settings)
        if note:
            print(note, file=sys.stderr)
        results_dir = self.settings.path(self.settings.results_dir)
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
        # a shell starts background jobs with SIGINT ignored; `kill -INT` must still stop us
        previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            for spec in self.specs:
                with open_target(spec, self.run_id, results_dir / self.run_id, self.settings.database_url,
                                 self.server_options, self.application) as target:
                    check_version(target, self.strategies)
                    self._open_folder()
                    self._run_target(target)
        except KeyboardInterrupt:
            self.console.print(f"interrupted: {self._kept()}")
            log.warning("interrupted after %d rows", len(self.rows))
            return 130
        except (ServerLost, RunFolderError) as error:
            print(f"error: {error}; {self._kept()}", file=sys.stderr)
            log.error("run stopped: %s", error)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            self._close()
        self._print_summary()
        failed = [r for r in self.rows if not r["success"]]
        return 1 if failed else 0

    def _kept(self) -> str:
        where = self.folder.path / "results.csv" if self.folder else "nowhere (no run folder yet)"
        return f"{len(self.rows)} finished rows kept in {where}"

    def _open_folder(self) -> None:
        if self.folder is not None:
            return
        self.folder = RunFolder(self.settings.path(self.settings.results_dir), self.run_id)
        handler = _QuietFileHandler(self.folder.path / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("experiments").addHandler(handler)
        logging.getLogger("experiments").setLevel(logging.INFO)
        self._log_handler = handler
        self.folder.write_text("config.env", "\n".join(self._env_lines()) + "\n")
        self.folder.write_text("git.diff", git_diff_text())
        self._write_manifest()
        log.info("run %s: %d strategies, settings: %s", self.run_id, len(self.strategies),
                 "; ".join(self._env_lines()))
        self.console.print(f"run {self.run_id}: writing {self.folder.path}")

    def _env_lines(self) -> list[str]:
        resolved = {"SEED": str(self.seed)}
        if not self.settings.database_url:
            resolved["PG"] = ",".join(spec.label.removeprefix("embedded:") for spec in self.specs)
        return self.settings.as_env_lines(resolved)

    def _write_manifest(self, finished: bool = False) -> None:
        s = self.settings
        self.folder.write_json("manifest.json", {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(timezone.utc).isoformat() if finished else None,
            "seed": self.seed,
            "config": dict(line.split("  # ")[0].split("=", 1) for line in self._env_lines()),
            "config_sources": dict(s.sources),
            "items": s.items, "threads": s.threads, "repeat": s.repeat, "timeout_s": s.timeout,
            "measure_memory": s.measure_memory,
            "timing": "duration from a plain process; memory from a second, memray-tracked "
                      "process of the same pass (both verified)" if s.measure_memory
                      else "duration from a plain process; memory not measured",
            "strategies": [{"name": st.name, "title": st.title, "tags": st.tags,
                            "file": str(st.path.relative_to(REPO_ROOT)) if st.path.is_relative_to(REPO_ROOT)
                            else str(st.path), "sha256": _sha256(st.path),
                           "comprehensibility": _comprehensibility(st.path)} for st in self.strategies],
            "servers": self.servers,
            "checkpoint_before_pass": self.checkpoint_ok,
            "git": self.git,
            "machine": manifest.machine(),
            "packages": manifest.packages(),
            "rows": len(self.rows),
            "sweep": self.sweep,
            "contention": s.contention,
        })

    def _close(self) -> None:
        if self.folder is not None:
            try:
                self._write_manifest(finished=True)
            except RunFolderError as error:  # the disk filled up: the rows are what matters
                log.error("%s", error)
            self.folder.close()
            logging.getLogger("experiments").removeHandler(self._log_handler)
            self._log_handler.close()
        for path in self.scratch.glob("*"):
            path.unlink(missing_ok=True)
        self.scratch.rmdir()

    # -- one server --------------------------------------------------------------------
    def _run_target(self, target: Target) -> None:
        s = self.settings
        info = dict(target.details, kind=target.kind, label=target.label, schema=target.schema,
                    dsn=target.safe_dsn)
        self.servers.append(info)
        self._write_manifest()
        self.console.print(f"PostgreSQL {target.server_version} ({target.label}), "
                           f"{s.items:,} items, {s.threads} threads, {s.repeat} repeats, seed {self.seed}")
        self._target_kind = target.kind
        with psycopg.connect(target.dsn, autocommit=True, application_name="upsert-bench-harness") as conn:
            conn.execute("SET lock_timeout = '60s'")
            schema.create_tables(conn)
            self.statements_schema, why_not = server_stats.statement_counting(conn, target.kind != "dsn")
            info["statement_counting"] = f"pg_stat_statements ({self.statements_schema})" if not why_not else why_not
            self._write_manifest()
            for phase in PHASES:
                schema.load_stage(conn, Workload(target.dsn, s.items, phase, s.threads))
            total = s.repeat * len(self.strategies) * len(PHASES)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                          TimeRemainingColumn(), console=self.console, transient=True) as progress:
                task = progress.add_task(target.label, total=total)
                for repeat in range(1, s.repeat + 1):
                    order = list(self.strategies)
                    random.Random(f"{self.seed}:{target.label}:{repeat}").shuffle(order)
                    for position, strategy in enumerate(order, start=1):
                        for phase in PHASES:
                            progress.update(task, description=f"{target.label} r{repeat}/{s.repeat} "
                                                              f"{strategy.name} {phase}")
                            row = self._measure(conn, target, strategy, phase, repeat, position, progress)
                            self._record(row, progress)
                            progress.advance(task)
            schema.drop_stage(conn)

    def _measure(self, conn, target: Target, strategy: Strategy, phase: str, repeat: int, position: int,
                 progress: Progress) -> dict:
        """One pass's row; a failed row when a harness query fails (raises ServerLost, after
        recording that row, when the server or the harness's connection is gone)."""
        try:
            return self._run_pass(conn, target, strategy, phase, repeat, position)
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            where = f"{strategy.name} {phase} r{repeat}"
            reason = target.lost()
            if reason or conn.closed:
                reason = reason or f"the harness lost its connection: {connect_error(error)}"
                self._record(self._failed_row(target, strategy, phase, repeat, position,
                                              f"server lost: {reason}"), progress)
                raise ServerLost(f"the server went away during {where}: {reason}") from error
            # e.g. a lock that a leaked process took after the pass: the next pass's preparation
            # ends such processes, so the run goes on
            log.warning("%s: harness query failed: %s", where, error)
            return self._failed_row(target, strategy, phase, repeat, position,
                                    f"harness query failed: {connect_error(error)}")

    def _record(self, row: dict, progress: Progress) -> None:
        progress.console.print(_pass_line(row))
        self.folder.append(row)  # on disk first: self.rows counts only rows the file holds
        self.rows.append(row)

    def _failed_row(self, target: Target, strategy: Strategy, phase: str, repeat: int, position: int,
                    error: str) -> dict:
        """The row of a pass the harness could not finish measuring (its server went away, one
        of its own queries failed)."""
        s = self.settings
        return {"run_id": self.run_id, "strategy": strategy.name, "phase": phase, "repeat": repeat,
                "items": s.items, "threads": s.threads, "backend": target.kind,
                "pg_version": target.server_version, "counts_ok": False, "values_ok": False,
                "success": False, "error": error, "test": f"{strategy.name}-{phase}",
                "library": strategy.library, "technique": strategy.tags.get("technique", ""),
                "reference": strategy.is_reference, "order": position, "seed": self.seed,
                "server": target.label, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "error_kind": contention.error_kind(error), "contention": s.contention and phase == "update"}

    # -- one pass --------------------------------------------------------------------
    def _end_strays(self, conn: psycopg.Connection) -> None:
        stray = server_stats.end_stray_backends(conn, self._backend_filter)
        if stray:
            log.info("terminated %d backends left by the previous process", stray)

    def _prepare(self, conn: psycopg.Connection, phase: str) -> None:
        self._end_strays(conn)
        schema.prepare_pass(conn, phase)
        if self.checkpoint_ok:
            try:
                conn.execute("CHECKPOINT")
            except psycopg.Error as error:
                self.checkpoint_ok = False
                log.warning("CHECKPOINT not allowed (%s): passes start without one", error)

    @property
    def _backend_filter(self) -> str:
        # on our own embedded server every other client is a leftover; on a shared one only ours
        return self.application if self._target_kind == "dsn" else ""

    def _worker(self, target: Target, strategy: Strategy, phase: str, prefix: list[str],
                name: str, extra_env: dict | None = None) -> ProcessOutcome:
        s = self.settings
        env = dict(child_env(target.dsn, TOTAL_ITEMS=str(s.items), TOTAL_THREADS=str(s.threads)),
                   **(extra_env or {}), BENCH_PHASE=phase, PGAPPNAME=self.application)
        argv = [*prefix, "experiments.worker", "--strategy-file", str(strategy.path),
                "--phase", phase, "--items", str(s.items), "--threads", str(s.threads),
                "--result", str(self.scratch / f"{name}.json")]
        outcome = run_worker(argv, env, s.timeout, self.scratch / f"{name}.json",
                             self.scratch / f"{name}.out", REPO_ROOT)
        log.info("%s: exit %s, wall %.3f s, result %s", name, outcome.returncode, outcome.wall_s,
                 outcome.result)
        if outcome.error:
            log.warning("%s failed: %s\n--- last output ---\n%s", name, outcome.error, outcome.output_tail)
        return outcome

    def _verify(self, conn: psycopg.Connection, phase: str) -> Verification:
        self._end_strays(conn)
        return verify(conn, phase, self.settings.items)

    def _run_pass(self, conn, target: Target, strategy: Strategy, phase: str, repeat: int,
                  position: int) -> dict:
        s = self.settings
        name = f"{strategy.name}-{phase}-r{repeat}-{target.label.replace(':', '')}"
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        errors: list[str] = []
        memory = None
        if s.measure_memory:
            capture = (self.folder.captures if s.keep_captures else self.scratch) / f"{name}.bin"
            self._prepare(conn, phase)
            tracked = self._worker(target, strategy, phase, memray_command(capture), name + "-memory")
            check = self._verify(conn, phase)
            memory = read_capture(capture)
            if not s.keep_captures:
                capture.unlink(missing_ok=True)
            if tracked.error or not check.success:
                errors.append("memory process: " + (tracked.error or check.problem))

        contended = s.contention and phase == "update"
        self._prepare(conn, phase)
        if contended:
            contention.open_gap(conn, s.items)
        if self.statements_schema:
            server_stats.reset_statements(conn, self.statements_schema)
        before = server_stats.snapshot(conn)
        with (contention.contender(target.dsn, s.items, self.scratch, name + "-contender")
              if contended else nullcontext({})) as rival:
            timed = self._worker(target, strategy, phase, [sys.executable, "-m"], name,
                                 {GO_FILE_ENV: str(contention.go_file(self.scratch, name + "-contender"))}
                                 if contended else {})
        after = server_stats.settle(conn, self._backend_filter, before,
                                    0 if timed.error or contended else 2 * s.items)
        statements = (server_stats.statements(conn, self.statements_schema)  # before verify's queries
                      if self.statements_schema else None)
        if contended:
            log.info("%s-contender: %s", name, json.dumps(rival, sort_keys=True))
            self._end_strays(conn)
            check = contention.verify(conn, s.items)
        else:
            check = self._verify(conn, phase)
        if timed.error or not check.success:
            errors.insert(0, timed.error or check.problem)
        success = check.success and not errors
        return {
            "run_id": self.run_id, "strategy": strategy.name, "phase": phase, "repeat": repeat,
            "items": s.items, "threads": s.threads, "backend": target.kind,
            "pg_version": target.server_version,
            "duration_s": _round(timed.result.get("duration_s")),
            "wall_s": _round(timed.wall_s),
            "peak_memory_mb": memory.peak_memory_mb if memory else None,
            "allocations": memory.allocations if memory else None,
            "max_rss_mb": round(timed.max_rss_mb, 3),
            "users": check.users, "addresses": check.addresses,
            "counts_ok": check.counts_ok, "values_ok": check.values_ok, "success": success,
            "error": " | ".join(errors),
            "wal_bytes": server_stats.wal_bytes(conn, before, after),
            "table_bytes": server_stats.table_bytes(conn),
            "dead_tuples": after.dead - before.dead,
            "hot_updates": after.hot - before.hot,
            "test": f"{strategy.name}-{phase}",
            "connections": after.sessions - before.sessions,
            "statements": statements,
            "library": strategy.library, "technique": strategy.tags.get("technique", ""),
            "reference": strategy.is_reference,
            "memory_duration_s": _round(tracked.result.get("duration_s")) if memory else None,
            "memory_max_rss_mb": round(tracked.max_rss_mb, 3) if memory else None,
            "order": position, "seed": self.seed, "server": target.label, "started_at": started_at,
            "error_kind": contention.error_kind(errors[0] if errors else ""),
            "contention": contended,
            "contender_rows": rival.get("rows") if contended else None,
            "contender_retries": rival.get("retries") if contended else None,
            "contender_errors": (sum(rival.get(k, 0) for k in ("unique_violations", "foreign_key_violations",
                                                                 "other_errors")) if contended else None),
            "rows_won_by_contender": check.contender_rows if contended else None,
            # a strategy that raised rolled back (or stopped): its unwritten rows are not torn
            "torn_rows": check.torn_rows if contended and not timed.error else None,
        }

    # -- output --------------------------------------------------------------------
    def _print_summary(self) -> None:
        if not self.rows:
            return
        self.console.print(summary_table(self.rows))
        if any(r.get("contention") for r in self.rows):
            self.console.print(contention_table(self.rows))
        failed = [r for r in self.rows if not r["success"]]
        if failed:
            self.console.print(f"{len(failed)} of {len(self.rows)} passes failed; reasons are in the "
                               f"error column and {self.folder.path / 'run.log'}")
        self.console.print(f"results: {self.folder.path / 'results.csv'}")


def check_version(target: Target, strategies: list[Strategy]) -> None:
    """Refuse, in one line, a server too old for the catalogue and the harness's statistics."""
    if target.major >= MIN_MAJOR:
        return
    merge = [s.name for s in strategies if s.tags.get("technique") in ("sql_merge", "copy_merge")]
    raise UsageError(
        f"PostgreSQL {target.server_version} ({target.label}) is older than {MIN_MAJOR}: MERGE "
        f"strategies ({', '.join(merge) or 'none selected'}) need 15+, and the harness's statistics "
        "need pg_stat_force_next_flush() (15+) and pg_stat_database.sessions (14+)")


def make_console() -> Console:
    """Rich console; when output is not a terminal (CI, a pipe) use a wide fixed width."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=160)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _comprehensibility(path: Path) -> dict | None:
    from experiments.comprehensibility import measure

    measured = measure(path)
    return measured.as_dict() if measured else None


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _pass_line(row: dict) -> str:
    where = f"{row['strategy']} {row['phase']} r{row['repeat']}"
    if not row["success"]:
        return f"[red]FAIL[/red] {where}: {row['error']}"
    memory = f", {row['peak_memory_mb']:.1f} MB peak" if row["peak_memory_mb"] is not None else ""
    return f"[green]ok[/green]   {where}: {row['duration_s']:.3f} s{memory}"


def summary_table(rows: list[dict]) -> Table:
    """Median duration and memory per server x strategy x phase, fastest first within a phase,
    with every duration as a multiple of the server-only floor (a reference row) when present."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["server"], row["phase"], row["strategy"])].append(row)

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    floors = {}
    for (server, phase, _), group in groups.items():
        good = [r for r in group if r["success"] and r["reference"]]
        if good:
            floors[(server, phase)] = median([r["duration_s"] for r in good])
    several_servers = len({row["server"] for row in rows}) > 1
    table = Table(title="Summary (medians of successful passes)")
    for column in ("server", "phase", "strategy", "ok", "duration s", "x floor", "peak memory MB",
                   "max RSS MB", "WAL MB", "conns"):
        if column == "server" and not several_servers or column == "x floor" and not floors:
            continue
        table.add_column(column, justify="left" if column in ("server", "phase", "strategy") else "right",
                         no_wrap=True)
    summaries = []
    for (server, phase, strategy), group in groups.items():
        good = [r for r in group if r["success"]]
        duration = median([r["duration_s"] for r in good])
        summaries.append((server, PHASES.index(phase), duration if duration is not None else float("inf"),
                          phase, strategy, len(good), len(group), good))
    for server, _, duration, phase, strategy, n_ok, n, good in sorted(summaries):
        def fmt(key, scale=1.0, digits=1):
            value = median([r[key] for r in good])
            return "-" if value is None else f"{value / scale:,.{digits}f}"
        floor = floors.get((server, phase))
        multiple = f"{duration / floor:,.1f}x" if floor and good else "-"
        cells = [phase, strategy, f"{n_ok}/{n}", fmt("duration_s", digits=3),
                 *([multiple] if floors else []), fmt("peak_memory_mb"), fmt("max_rss_mb"),
                 fmt("wal_bytes", 1e6), fmt("connections", digits=0)]
        table.add_row(*([server] if several_servers else []), *cells, style="" if n_ok == n else "red")
    return table


def contention_table(rows: list[dict]) -> Table:
    """Per server x strategy, what the contended update passes ended as: passes ok, what the
    strategy raised, rows the contender won, torn rows (neither writer's values: must be 0) and
    the contender's retries and errors (sums over repeats, except rows won: median)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("contention"):
            groups[(row["server"], row["strategy"])].append(row)
    several_servers = len({server for server, _ in groups}) > 1
    table = Table(title="Contention (update pass against a second writer on the same keys)")
    for column in ("server", "strategy", "ok", "strategy raised", "torn rows", "rows won by contender",
                   "contender retries", "contender errors"):
        if column != "server" or several_servers:
            table.add_column(column, justify="left" if column in ("server", "strategy", "strategy raised")
                             else "right", no_wrap=True)

    def total(group, key):
        values = [r[key] for r in group if r.get(key) is not None]
        return "-" if not values else f"{sum(values):,}"

    for (server, strategy), group in sorted(groups.items()):
        ok = sum(1 for r in group if r["success"])
        raised = ", ".join(sorted({r["error_kind"] for r in group if r.get("error_kind")})) or "-"
        won = [r["rows_won_by_contender"] for r in group if r.get("rows_won_by_contender") is not None]
        torn = total(group, "torn_rows")
        table.add_row(*([server] if several_servers else []), strategy, f"{ok}/{len(group)}", raised, torn,
                      f"{statistics.median(won):,.0f}" if won else "-", total(group, "contender_retries"),
                      total(group, "contender_errors"),
                      style="" if ok == len(group) and torn in ("0", "-") else "red")
    return table
