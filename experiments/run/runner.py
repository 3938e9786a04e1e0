"""The benchmark run: servers x repeats x strategies (shuffled, seeded) x phases.

`Runner.run()` schedules the passes and keeps the run folder; a pass itself is
`experiments.passes.one_pass`, what the terminal shows is `experiments.run.console`.
Every finished row is in results.csv before the next pass starts. Exit status: 0 when every
pass succeeded, 1 when one failed or the run had to stop (its server went away, the run folder
could not be written), 2 when a session of the run did not start in its schema (a pooler dropped
the search_path option: nothing was written outside it), 130 when interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import sys
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from contract.errors import UsageError
from contract.row import PassRow
from contract.workload import Workload
from experiments import OWNER_FILE, SCRATCH_DIR_PREFIX
from experiments.catalog import Strategy
from experiments.config import Settings, ignored_environment_note
from experiments.database import schema
from experiments.passes.one_pass import PassRunner, ServerLost
from experiments.run import console as screen
from experiments.run import manifest
from experiments.run.schedule import Schedule
from experiments.run.folder import (RunFolder, RunFolderError, git_diff_text, git_state,
                                    new_run_id)
from experiments.run.lock import describe as describe_holder, one_run_at_a_time
from experiments.run.preflight import Plan, check_version, preflight
from experiments.servers import ServerSpec, Target, open_target
from experiments.servers.sessions import WrongSchema, connect_in_schema
from experiments.servers.wire import Wire

log = logging.getLogger("experiments.runner")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C."""


class _QuietFileHandler(logging.FileHandler):
    """run.log's handler: a write that fails (disk full) drops the record instead of printing
    a traceback; the run reports the full disk itself, in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass

    def close(self) -> None:
        try:  # records it could not write are still buffered: flushing them fails again
            super().close()
        except OSError:
            pass


def _raise_interrupted(signum, frame):
    raise Interrupted()


class Runner:
    def __init__(self, settings: Settings, console: Console | None = None, sweep: dict | None = None,
                 rerun_of: dict | None = None, plan: Plan | None = None):
        self.settings = settings
        self.console = console or screen.make_console()
        self.sweep = sweep  # the sweep's id and grid, for a grid point (experiments.run.sweep)
        self.rerun_of = rerun_of  # --from: the original's run id and what differs from it
        plan = plan or preflight(settings)
        self.strategies: list[Strategy] = plan.strategies
        self.specs: list[ServerSpec] = plan.specs
        self.server_options = plan.server_options
        self.seed = settings.seed if settings.seed is not None else random.SystemRandom().randrange(2**31)
        self.run_id = new_run_id()
        self.application = f"upsert-bench:{self.run_id}"  # application_name of every worker session
        self.folder: RunFolder | None = None
        self.log_handler: logging.Handler | None = None
        self.rows: list[PassRow] = []  # the rows results.csv holds
        self.servers: list[dict] = []  # what the manifest records of each server
        self.checkpoint_ok = settings.checkpoint  # the manifest's; False with --no-checkpoint or once refused
        self.repeats: dict[str, dict] = {}  # per server label: Schedule.report()
        self.slow_rounds: dict[str, dict] = {}  # per server label: Schedule.slow_rounds()
        self.unstable: list[tuple[str, str, str, float]] = []  # (server, strategy, phase, CV)
        self.concurrency: dict = {}  # what run/lock.py says of this run (the manifest's concurrency)
        self.started_at = datetime.now(timezone.utc)
        self.git = git_state()  # at the start: the code that ran, not what it became later
        self.scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_DIR_PREFIX))
        (self.scratch / OWNER_FILE).write_text(str(os.getpid()))

    # -- the whole run ---------------------------------------------------------------
    def run(self) -> int:
        """The run, holding the machine's one-run-at-a-time lock from before its first server
        starts to its end (run/lock.py); refused (UsageError) while another run holds it."""
        with ExitStack() as stack:
            try:
                self.concurrency = stack.enter_context(
                    one_run_at_a_time(self.run_id, self.settings.allow_concurrent))
            except UsageError:
                self._close()  # nothing written yet: only the scratch folder to remove
                raise
            if self.concurrency["other_run"] is not None:
                print(f"note: --allow-concurrent: running beside {describe_holder(self.concurrency['other_run'])}"
                      "; both runs' numbers suffer, and the manifest says so", file=sys.stderr)
            return self._run()

    def _run(self) -> int:
        note = ignored_environment_note(self.settings)
        if note:
            print(note, file=sys.stderr)
        screen.print_broken_rules(self.console, self.strategies)
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
        except (ServerLost, RunFolderError, WrongSchema) as error:
            print(f"error: {error}" + (f"; {self._kept()}" if self.folder else ""), file=sys.stderr)
            if self.folder:  # run.log; before the folder exists the line above is all there is
                log.error("run stopped: %s", error)
            return 2 if isinstance(error, WrongSchema) else 1  # a session outside the schema: setup
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
            self._close()
        if self.folder is not None:
            screen.print_summary(self.console, self.rows, self.folder.path / "run.log",
                                 self.folder.path / "results.csv", self.unstable)
        return 1 if any(not r.success for r in self.rows) else 0

    def _kept(self) -> str:
        where = self.folder.path / "results.csv" if self.folder else "nowhere (no run folder yet)"
        return f"{len(self.rows)} finished rows kept in {where}"

    # -- the run folder ----------------------------------------------------------------
    def _open_folder(self) -> None:
        if self.folder is not None:
            return
        self.folder = RunFolder(self.settings.path(self.settings.results_dir), self.run_id)
        self.log_handler = _QuietFileHandler(self.folder.path / "run.log", encoding="utf-8")
        self.log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("experiments").addHandler(self.log_handler)
        logging.getLogger("experiments").setLevel(logging.INFO)
        lines = self.settings.as_env_lines(self._resolved())
        self.folder.write_text("config.env", "\n".join(lines) + "\n")
        self.folder.write_text("git.diff", git_diff_text())
        self._write_manifest()
        log.info("run %s: %d strategies, settings: %s", self.run_id, len(self.strategies), "; ".join(lines))
        if self.concurrency.get("other_run") is not None:
            log.warning("--allow-concurrent: started beside %s", describe_holder(self.concurrency["other_run"]))
        self.console.print(f"run {self.run_id}: writing {self.folder.path}")

    def _resolved(self) -> dict[str, str]:
        """Settings the run decided: the seed it drew, the versions `newest` meant."""
        resolved = {"SEED": str(self.seed)}
        if not self.settings.database_url:
            resolved["PG"] = ",".join(spec.label.removeprefix("embedded:") for spec in self.specs)
        return resolved

    def _write_manifest(self, finished: bool = False) -> None:
        """manifest.json as the run stands (contract.manifest.Manifest, built in run/manifest.py)."""
        built = manifest.run_manifest(self, self._resolved(), finished)
        self.folder.write_json("manifest.json", built.to_dict())

    def _close(self) -> None:
        if self.folder is not None:
            try:
                self._write_manifest(finished=True)
            except RunFolderError as error:  # the disk filled up: the rows are what matters
                log.error("%s", error)
            self.folder.close()
            logging.getLogger("experiments").removeHandler(self.log_handler)
            self.log_handler.close()
        shutil.rmtree(self.scratch, ignore_errors=True)  # worker files, the relays' sockets

    def _record(self, row: PassRow, progress) -> None:
        progress.console.print(screen.pass_line(row, self.settings))
        self.folder.append(row)  # on disk first: self.rows counts only rows the file holds
        self.rows.append(row)

    # -- one server --------------------------------------------------------------------
    def _run_target(self, target: Target) -> None:
        s = self.settings
        info = dict(target.details, kind=target.kind, label=target.label, schema=target.schema, dsn=target.safe_dsn)
        self.servers.append(info)
        self._write_manifest()
        schedule = Schedule(self.strategies, s, self.seed, target.label)
        self.console.print(f"PostgreSQL {target.server_version} ({target.label}), {s.items:,} items, "
                           f"{_threads(s.thread_counts)}, {schedule.describe()}, seed {self.seed}")
        with connect_in_schema(target.dsn, target.schema, target.label, application_name="upsert-bench-harness") \
                as conn, Wire(target.dsn, conn, s.latencies, s.measure_memory, self.scratch) as wire:
            conn.execute("SET lock_timeout = '60s'")
            schema.create_tables(conn, target.schema)
            passes = PassRunner(s, target, conn, run_id=self.run_id, seed=self.seed, application=self.application,
                                scratch=self.scratch, captures=self.folder.captures if s.keep_captures else None,
                                wire=wire)
            info["statement_counting"] = passes.statement_counting
            info["wal_fpi_bytes"] = passes.full_pages.how
            schema.load_start(conn, target.schema, passes.keys)
            for phase in s.phases:
                schema.load_stage(conn, Workload(target.dsn, s.items, phase, s.threads, target.schema, **s.shape))
            self.console.print(wire.describe(wire.measure("start")))  # the round-trip time, once
            info.update(wire.details())  # its round_trip_times grow with the measurement at the end
            self._write_manifest()
            schedule.start()
            try:
                with screen.progress_bar(self.console) as progress:
                    task = progress.add_task(target.label, total=schedule.total_passes())
                    while (order := schedule.next_round()) is not None:
                        for position, unit in enumerate(order, start=1):
                            for phase in s.phases:
                                progress.update(task, description=f"{target.label} r{schedule.round} "
                                                                  f"{unit.name} {phase}")
                                row = passes.measure(unit.strategy, phase, schedule.round, position,
                                                     record=lambda failed: self._record(failed, progress),
                                                     threads=unit.threads, latency=unit.latency)
                                self._record(row, progress)
                                schedule.record(row)
                                self.checkpoint_ok = self.checkpoint_ok and passes.checkpoint_ok
                                progress.advance(task)
                        schedule.end_round()
                        if schedule.round == 1 and schedule.auto:
                            self.console.print(schedule.plan())
            finally:  # also when interrupted: the manifest says how far each strategy got
                self.repeats[target.label] = schedule.report()
                self.slow_rounds[target.label] = schedule.slow_rounds()
            self.unstable += [(target.label, *entry) for entry in schedule.unstable()]
            wire.measure("end")
            schema.drop_stage(conn, target.schema)


def _threads(counts: tuple[int, ...]) -> str:
    return f"{counts[0]} threads" if len(counts) == 1 else f"threads {','.join(map(str, counts))} interleaved"
