"""A pass's starting state, before each of its processes (untimed).

Leftover backends of the previous process are ended, a session opened as the worker's is checked
to start in the run's schema (on a --dsn server, where a pooler may sit between), the tables are
restored, vacuumed and analysed (`schema.prepare_pass`; whole, the first time and after a pass
that left them wrong) and, unless `--no-checkpoint`, a
CHECKPOINT writes every dirty buffer out: the pass then starts with clean buffers, and the first
change to each page it touches writes a full-page image into the WAL. Without it (the steady state
an application's upserts meet) the restored pages were last changed after the server's last
checkpoint, so changing them again writes no image until the server's own next one (every
checkpoint_timeout, or max_wal_size of WAL), which may come during a pass; the buffers the restore
dirtied are written out by the background writer, the backends or that checkpoint. A server
that refuses CHECKPOINT (a --dsn role without pg_checkpoint) turns it off for the rest of the
run, with a warning.
"""

from __future__ import annotations

import logging

import psycopg

from contract.workload import Keys
from experiments.database import schema, server_stats
from experiments.servers import Target
from experiments.servers.sessions import check_new_session

log = logging.getLogger("experiments.pass")


class Preparer:
    """Puts the tables of `target` in a pass's starting state through the harness's `conn`."""

    def __init__(self, conn: psycopg.Connection, target: Target, backend_filter: str, checkpoint: bool,
                 keys: Keys):
        self.conn, self.target, self.keys = conn, target, keys
        self.backend_filter = backend_filter  # whose backends are strays: "" every other client's
        self.check_sessions = target.kind == "dsn"  # a pooler may sit between: check each worker's
        self.checkpoint = checkpoint  # passes start after a CHECKPOINT (False: --no-checkpoint, or refused)
        self.rebuild = True  # refill every row before the next pass (the first, or after a wrong one)

    def verified(self, check) -> None:
        """A pass's tables were checked: wrong ones are refilled whole before the next pass (with
        --table-rows the restore otherwise touches only the pass's keys)."""
        self.rebuild = self.rebuild or not check.success

    def end_strays(self) -> None:
        stray = server_stats.end_stray_backends(self.conn, self.backend_filter)
        if stray:
            log.info("terminated %d backends left by the previous process", stray)

    def __call__(self, phase: str) -> None:
        self.end_strays()
        if self.check_sessions:  # a session as the worker's starts in the schema (WrongSchema)
            check_new_session(self.target.dsn, self.target.schema)
        schema.prepare_pass(self.conn, self.target.schema, phase, self.keys, rebuild=self.rebuild)
        self.rebuild = False
        if self.checkpoint:
            try:
                self.conn.execute("CHECKPOINT")
            except psycopg.Error as error:
                self.checkpoint = False
                log.warning("CHECKPOINT not allowed (%s): passes start without one", error)
