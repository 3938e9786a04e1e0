"""One pass (strategy x phase x repeat on one server), from its starting state to its row.

1. put the tables in the pass's starting state (`prepare.Preparer`: restored, vacuumed and, unless
   --no-checkpoint, checkpointed; untimed);
2. in the first MEMORY_REPEATS repeats, run the strategy under memray in a fresh process,
   through the counting relay (`servers.wire`), for memory, round trips and bytes; verify;
3. restore the same state, run it in a plain process for the duration (through the relay of
   its --latency, if any), with the server's WAL (and its full-page images: `full_pages`) and
   tuple counters around it, its CPU at the worker's marks of main() (cpu.MainSpan), the
   machine's around the process (cpu.ForeignMeter) and, with --contention, a second writer
   racing it; verify again;
4. return its `PassRow`, with what the harness spent on each step (prepare_s, verify_s, ...).
A pass that fails, hangs past the timeout or writes a wrong value gets a failed row with a
one-line reason; so does a failed harness query, unless the server is gone (`ServerLost`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from contract.row import PassRow, error_kind, under_foreign_load
from contract.workload import Keys
from experiments import GO_FILE_ENV, REPO_ROOT
from experiments.catalog import Strategy
from experiments.config import Settings
from experiments.database import server_stats
from experiments.database.full_pages import FullPages
from experiments.database.verify import Verification, verify
from experiments.passes import contention
from experiments.passes.cpu import ForeignMeter, MainSpan
from experiments.passes.memory import memray_command, read_capture
from experiments.passes.worker import worker_argv
from experiments.passes.prepare import Preparer
from experiments.process import ProcessOutcome, child_env, run_worker
from experiments.servers import Target
from experiments.servers.wire import Wire
from experiments.urls import connect_error

log = logging.getLogger("experiments.pass")


class ServerLost(Exception):
    """The server of the run went away mid-pass: that pass is recorded as failed and the run
    stops with exit status 1 (a restarted server would mix a cold cache into the numbers)."""


class PassRunner:
    """Runs passes on one server, through the harness's own connection `conn`."""

    def __init__(self, settings: Settings, target: Target, conn: psycopg.Connection, *, run_id: str,
                 seed: int, application: str, scratch: Path, captures: Path | None, wire: Wire):
        self.settings, self.target, self.conn = settings, target, conn
        self.wire = wire  # the server's relays: what a memory process sends, --latency
        self.threads = settings.threads  # the thread count of the pass measured now (measure())
        self.latency: float | None = None  # ... and its added latency (None: direct)
        self.run_id = run_id
        self.seed = seed
        self.application = application  # application_name of every worker session
        self.scratch = scratch  # result files, worker output, captures not kept
        self.captures = captures  # where memray captures go when kept (--keep-captures)
        self.statements_schema, why_not = server_stats.statement_counting(conn, target.kind != "dsn")
        self.statement_counting = (f"pg_stat_statements ({self.statements_schema})" if not why_not
                                   else why_not)
        # on our own server every other client is a leftover; on a shared one only ours
        self.keys = Keys(settings.items, **settings.shape)  # which ids the passes write (--table-rows, ...)
        self.prepare = Preparer(conn, target, application if target.kind == "dsn" else "", settings.checkpoint,
                                self.keys)
        self.full_pages = FullPages(conn, target)  # wal_fpi_bytes: how, or why not (the manifest's)
        self.spent: dict[str, float] = {}  # the current pass's harness time, by what it was for

    @contextmanager
    def _spending(self, what: str):
        """Add the block's wall time to the current pass's `what` (prepare_s, verify_s, ...)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.spent[what] = self.spent.get(what, 0.0) + time.perf_counter() - started

    def measure(self, strategy: Strategy, phase: str, repeat: int, position: int,
                record=None, threads: int | None = None, latency: float | None = None) -> PassRow:
        """The pass's row at `threads` (the setting's when None) and `latency` (the round-trip time
        added to its timed process; None: direct); a failed row when a harness query fails. When
        the server or the harness's connection is gone, `record` gets it and ServerLost is raised."""
        self.threads, self.latency = threads or self.settings.threads, latency
        try:
            return self._run(strategy, phase, repeat, position)
        except psycopg.Error as error:
            where = f"{strategy.name} {phase} r{repeat}"
            reason = self.target.lost()
            if reason or self.conn.closed:
                reason = reason or f"the harness lost its connection: {connect_error(error)}"
                if record:
                    record(self.failed_row(strategy, phase, repeat, position, f"server lost: {reason}"))
                raise ServerLost(f"the server went away during {where}: {reason}") from error
            # e.g. a lock that a leaked process took after the pass: the next pass's preparation
            # ends such processes, so the run goes on
            log.warning("%s: harness query failed: %s", where, error)
            return self.failed_row(strategy, phase, repeat, position,
                                   f"harness query failed: {connect_error(error)}")

    def _identity(self, strategy: Strategy, phase: str, repeat: int, position: int) -> dict:
        """The columns every row of this pass has, whatever happened."""
        s, target = self.settings, self.target
        return {"run_id": self.run_id, "strategy": strategy.name, "phase": phase, "repeat": repeat,
                "items": s.items, "threads": self.threads, "backend": target.kind,
                "pg_version": target.server_version, "test": f"{strategy.name}-{phase}",
                "library": strategy.library, "technique": strategy.tags.get("technique", ""),
                "reference": strategy.is_reference, "order": position, "seed": self.seed,
                "server": target.label, "contention": s.contention and phase == "update",
                **s.shape, "hit_ratio": s.hit_ratio if phase == "mixed" else None,
                "checkpoint": self.prepare.checkpoint,
                "latency_ms": self.latency or 0.0, "via_relay": self.latency is not None,
                "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def failed_row(self, strategy: Strategy, phase: str, repeat: int, position: int, error: str) -> PassRow:
        """The row of a pass the harness could not finish measuring."""
        return PassRow(**self._identity(strategy, phase, repeat, position), counts_ok=False,
                       values_ok=False, success=False, error=error, error_kind=error_kind(error))

    @property
    def checkpoint_ok(self) -> bool:
        """Passes start after a CHECKPOINT (False with --no-checkpoint, or once the server refused one)."""
        return self.prepare.checkpoint

    def _prepare(self, phase: str) -> None:
        with self._spending("prepare_s"):
            self.prepare(phase)

    def _verify(self, phase: str) -> Verification:
        with self._spending("verify_s"):
            self.prepare.end_strays()
            check = verify(self.conn, self.target.schema, phase, self.keys)
            self.prepare.verified(check)  # (contention: plain tables, refilled whole anyway)
            return check

    def _worker(self, strategy: Strategy, phase: str, prefix: list[str], name: str, dsn: str,
                extra_env: dict | None = None, on_mark=None) -> ProcessOutcome:
        s = self.settings
        env = dict(child_env(dsn), **(extra_env or {}), PGAPPNAME=self.application)
        result = self.scratch / f"{name}.json"
        argv = [*prefix, *worker_argv(strategy.path, phase, self.keys, self.threads, self.target.schema, result)]
        outcome = run_worker(argv, env, s.timeout, result, self.scratch / f"{name}.out", REPO_ROOT, on_mark)
        log.info("%s: exit %s, wall %.3f s, result %s", name, outcome.returncode, outcome.wall_s,
                 outcome.result)
        if outcome.error:
            log.warning("%s failed: %s\n--- last output ---\n%s", name, outcome.error, outcome.output_tail)
        return outcome

    def _memory(self, strategy: Strategy, phase: str, name: str) -> tuple[dict, list[str]]:
        """The memray-tracked process: its columns (the wire's too), and its error if it failed."""
        capture = (self.captures or self.scratch) / f"{name}.bin"
        self._prepare(phase)
        with self._spending("memory_wall_s"):
            tracked = self._worker(strategy, phase, memray_command(capture), name + "-memory",
                                   self.wire.memory_dsn())
            wire = self.wire.counts()
        check = self._verify(phase)
        with self._spending("memory_wall_s"):
            memory = read_capture(capture)
        if self.captures is None:
            capture.unlink(missing_ok=True)
        errors = ["memory process: " + (tracked.error or check.problem)] if tracked.error or not check.success else []
        if not memory:
            return wire, errors
        return {**wire, "peak_memory_mb": memory.peak_memory_mb, "allocations": memory.allocations,
                "memory_duration_s": _round(tracked.result.get("duration_s")),
                "memory_max_rss_mb": tracked.peak_rss_mb}, errors

    def _run(self, strategy: Strategy, phase: str, repeat: int, position: int) -> PassRow:
        s, conn = self.settings, self.conn
        started = time.perf_counter()
        self.spent = {}
        identity = self._identity(strategy, phase, repeat, position)
        unit = (f"-t{self.threads}" if s.interleaves_threads else "") + (
            "" if not s.interleaves_latencies else "-direct" if self.latency is None else f"-{self.latency:g}ms")
        name = f"{strategy.name}{unit}-{phase}-r{repeat}-{self.target.label.replace(':', '')}"
        with_memory = s.measure_memory and repeat <= s.memory_repeats
        memory, errors = self._memory(strategy, phase, name) if with_memory else ({}, [])

        contended = identity["contention"]
        self._prepare(phase)
        identity["checkpoint"] = self.prepare.checkpoint  # False from the pass whose CHECKPOINT was refused
        if contended:
            contention.open_gap(conn, self.target.schema, s.items)
        if self.statements_schema:
            server_stats.reset_statements(conn, self.statements_schema)
        before = server_stats.snapshot(conn, self.target.schema)
        harness = (conn.info.backend_pid,)  # its snapshot and settle queries are not the pass's
        span = MainSpan(lambda: self.target.cpu_reading(excluding=harness))  # server CPU over main()
        # what other processes take meanwhile (foreign_cpu_s): the server's and the relays' work is ours
        meter = ForeignMeter(lambda: getattr(self.target.cpu_reading(), "total", None),
                             self.target.kind not in ("dsn", "docker"), self.wire.relay_cpu_seconds)
        meter.start()
        with (contention.contender(self.target.dsn, self.target.schema, s.items, self.scratch, name + "-contender")
              if contended else nullcontext({})) as rival:
            timed = self._worker(strategy, phase, [sys.executable, "-m"], name,
                                 self.wire.timed_dsn(self.latency),
                                 {GO_FILE_ENV: str(contention.go_file(self.scratch, name + "-contender"))}
                                 if contended else {}, on_mark=span.on_mark)
        meter.stop()  # the worker (and the contender) reaped: their CPU is in our children's times
        foreign = meter.columns(relayed=self.latency is not None)
        if under_foreign_load(foreign.get("foreign_cpu_s"), timed.wall_s):
            log.warning("%s ran under foreign load: other processes took %.3f s of CPU during its %.3f s; "
                        "its duration is suspect", name, foreign["foreign_cpu_s"], timed.wall_s)
        with self._spending("settle_s"):  # the pass's backends exit, the counters catch up; its WAL is read
            after = server_stats.settle(conn, self.target.schema, self.prepare.backend_filter, before,
                                        0 if timed.error or contended else 2 * s.items)
            full_pages = self.full_pages.columns(before, after)
        statements = (server_stats.statements(conn, self.statements_schema)  # before verify's queries
                      if self.statements_schema else None)
        if contended:
            log.info("%s-contender: %s", name, json.dumps(rival, sort_keys=True))
            self.prepare.end_strays()
            check = contention.verify(conn, self.target.schema, s.items)
        else:
            check = self._verify(phase)
        if timed.error or not check.success:
            errors.insert(0, timed.error or check.problem)
        return PassRow(
            **identity, **memory,
            duration_s=_round(timed.result.get("duration_s")), wall_s=_round(timed.wall_s),
            max_rss_mb=timed.peak_rss_mb, users=check.users, addresses=check.addresses,
            counts_ok=check.counts_ok, values_ok=check.values_ok, success=check.success and not errors,
            error=" | ".join(errors), error_kind=error_kind(errors[0] if errors else ""),
            wal_bytes=server_stats.wal_bytes(conn, before, after),
            table_bytes=server_stats.table_bytes(conn, self.target.schema),
            dead_tuples=after.dead - before.dead, hot_updates=after.hot - before.hot,
            connections=after.sessions - before.sessions, statements=statements, **full_pages,
            client_cpu_s=_round(timed.result.get("client_cpu_s")), **span.columns(),
            **(contention.columns(rival, check, timed) if contended else {}), **foreign,
            **{what: _round(seconds) for what, seconds in self.spent.items()},
            pass_s=_round(time.perf_counter() - started))


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
