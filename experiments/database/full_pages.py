"""The full-page images in a pass's WAL: how many (`wal_fpi`) and their bytes (`wal_fpi_bytes`).

After a checkpoint, the first change to each page writes the whole page into the WAL (a full-page
image, so that a crash cannot leave a torn page), and with data checksums (initdb's default since
PostgreSQL 18) so does the first hint bit set on it. So a pass that starts right after the
harness's CHECKPOINT pays an image of every page it touches; one with `--no-checkpoint` pays none
for pages already written since the last checkpoint.

PostgreSQL counts the images (`pg_stat_wal.wal_fpi`, for the whole server: `Snapshot.fpi`), not
their bytes. Those are in the WAL records between the two LSNs whose difference is the pass's
`wal_bytes`, and two tools can read them there:
- `pg_waldump --stats`, a program beside `postgres`, over the files in `<data dir>/pg_wal`: on the
  clusters the run starts (embedded, local), whose data folder is on this machine. The embedded
  wheel ships pg_waldump but no contrib module, so this is the default's way.
- pg_walinspect's `pg_get_wal_stats(start, end)` (contrib, PostgreSQL 15+): on a Docker server the
  run started (the harness creates the extension when the image has it), and on a --dsn server
  where it is already installed and the role may execute it. It is never created there: a user's
  server is theirs.
Anywhere else the column is empty, and `how` (the manifest's `servers[].wal_fpi_bytes`) says why
once. Both read the same thing, the "FPI size" of the records in the range (as stored: compressed
when wal_compression is on), images of other processes (autovacuum) included, like `wal_bytes`.
A read that fails leaves that pass's cell empty with a warning in run.log: e.g. a checkpoint of
its own during a long `--no-checkpoint` pass can recycle the pass's first WAL segment.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from experiments.database.server_stats import Snapshot
from experiments.servers import Target

log = logging.getLogger("experiments.pass")

WALDUMP_TIMEOUT_S = 300
# pg_waldump --stats's last line (PostgreSQL 15-18):
# "Total   15071   1051668 [78.87%]   281760 [21.13%]   1333428 [100%]": records, record bytes, FPI bytes, both
_TOTAL = re.compile(r"^Total\s+(\d+)\s+(\d+)\s+\[[^\]]*\]\s+(\d+)\s+\[", re.MULTILINE)


def waldump_fpi_bytes(output: str) -> int:
    """The FPI bytes of `pg_waldump --stats` output (its Total line)."""
    found = _TOTAL.search(output)
    if not found:
        raise ValueError("no Total line in pg_waldump --stats output")
    return int(found.group(3))


class FullPages:
    """Reads the full-page images of a pass on one server; the way is chosen once (`how`)."""

    def __init__(self, conn: psycopg.Connection, target: Target):
        self.conn = conn
        self.waldump: list[str] | None = None  # pg_waldump's command line, less the range
        self.walinspect: str | None = None  # the schema holding pg_walinspect
        waldump, why_not = _waldump(conn, target)
        if waldump:
            self.waldump, self.how = waldump, f"pg_waldump --stats over each pass's WAL ({waldump[0]})"
            return
        self.walinspect, why_not_sql = _walinspect(conn, own_server=target.kind != "dsn")
        self.how = (f"pg_walinspect's pg_get_wal_stats over each pass's WAL (schema {self.walinspect})"
                    if self.walinspect else f"not read: {why_not}; {why_not_sql}")

    def columns(self, before: Snapshot, after: Snapshot) -> dict:
        """The row's `wal_fpi` and `wal_fpi_bytes` over the span of the pass's `wal_bytes`."""
        return {"wal_fpi": after.fpi - before.fpi, "wal_fpi_bytes": self.read(before.lsn, after.lsn)}

    def read(self, start: str, end: str) -> int | None:
        """Bytes of the full-page images in the WAL from `start` to `end` (LSNs); None when unread."""
        if self.waldump is None and self.walinspect is None:
            return None
        if start == end:
            return 0
        if self.waldump is not None:
            try:
                done = subprocess.run([*self.waldump, "--start", start, "--end", end], capture_output=True,
                                      text=True, timeout=WALDUMP_TIMEOUT_S)
                if done.returncode == 0:
                    return waldump_fpi_bytes(done.stdout)
                problem = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            except (OSError, subprocess.TimeoutExpired, ValueError) as error:
                problem = str(error)
            log.warning("wal_fpi_bytes left empty: pg_waldump over %s..%s failed: %s", start, end, problem)
            return None
        try:
            return int(self.conn.execute(
                sql.SQL("SELECT coalesce(sum(fpi_size), 0) FROM {}.pg_get_wal_stats(%s::pg_lsn, %s::pg_lsn, false)")
                .format(sql.Identifier(self.walinspect)), (start, end)).fetchone()[0])
        except psycopg.Error as error:
            if self.conn.closed or self.conn.broken:
                raise  # the server is gone: the pass says so
            log.warning("wal_fpi_bytes left empty: pg_get_wal_stats over %s..%s failed: %s", start, end,
                        str(error).strip().splitlines()[0])
            return None


def _waldump(conn: psycopg.Connection, target: Target) -> tuple[list[str] | None, str]:
    """(pg_waldump's command line less the range, "") for a cluster whose WAL this machine can
    read, else (None, why not)."""
    if target.kind not in ("embedded", "local") or "data_dir" not in target.details:
        return None, ("pg_waldump: a --dsn server's WAL files are not the run's to read" if target.kind == "dsn"
                      else "pg_waldump: its WAL files are inside the container")
    program = Path(target.details["bin_dir"]) / "pg_waldump"
    wal = Path(target.details["data_dir"]) / "pg_wal"
    if not os.access(program, os.X_OK):
        return None, f"no pg_waldump beside its postgres ({program.parent})"
    if not os.access(wal, os.R_OK | os.X_OK):
        return None, f"{wal} is not readable by the harness"
    timeline = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0]
    return [str(program), "--stats", "--path", str(wal), "--timeline", str(timeline)], ""


def _walinspect(conn: psycopg.Connection, own_server: bool) -> tuple[str | None, str]:
    """(the schema of a usable pg_walinspect, "") or (None, why not). Created on our own server
    when it is available there; on a --dsn server only used when already installed."""
    row = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                       "WHERE e.extname = 'pg_walinspect'").fetchone()
    if row is None and not own_server:
        return None, ("pg_walinspect is not installed in its database (the harness creates no extension on "
                      "a server that is not ours)")
    if row is None:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_walinspect'").fetchone() is None:
            return None, "pg_walinspect is not available either"
        try:
            conn.execute("CREATE EXTENSION pg_walinspect SCHEMA public")
        except psycopg.Error as error:
            return None, f"pg_walinspect could not be created: {str(error).strip().splitlines()[0]}"
        row = ("public",)
    allowed = conn.execute("SELECT has_function_privilege(format('%%I.pg_get_wal_stats(pg_lsn, pg_lsn, boolean)', "
                           "%s::text), 'EXECUTE')", (row[0],)).fetchone()[0]
    if not allowed:
        return None, "this role may not execute pg_walinspect's pg_get_wal_stats (superuser or pg_read_server_files)"
    return row[0], ""
