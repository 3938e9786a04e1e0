"""Contention mode (`--contention`): the update pass races a second writer on the same keys.

Before the contended pass, half of the contended ids are deleted, so both writers have to
*insert* some keys and *update* others at the same moment. The second writer
(`experiments.passes.contender`) runs for exactly as long as the strategy's timed process. Afterwards
every row must hold the update phase's values or, for the contended ids, the contender's;
anything else is torn (or a lost update). The result row says what the strategy raised
(`error_kind`), how often the contender had to retry, how many rows it won and how many are torn.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from psycopg import sql

from experiments import REPO_ROOT
from experiments.database.verify import verify_contended
from experiments.passes.contender import contended_ids
from experiments.process import child_env, die_with_parent

READY_TIMEOUT_S = 30


def open_gap(conn: psycopg.Connection, schema: str, total: int) -> list[int]:
    """Delete every other contended id (addresses first: they reference the users)."""
    gap = [i for i in contended_ids(total) if i % 2 == 0]
    users, addresses = sql.Identifier(schema, "users"), sql.Identifier(schema, "addresses")
    with conn.transaction():
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(addresses), (gap,))
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(users), (gap,))
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}, {}").format(users, addresses))
    return gap


def go_file(scratch: Path, name: str) -> Path:
    """The file the strategy's worker creates when its clock starts (`GO_FILE_ENV` names it): the
    contender waits for it, so both writers start together, before either has closed the gap."""
    return scratch / f"{name}.go"


@contextmanager
def contender(dsn: str, schema: str, total: int, scratch: Path, name: str):
    """Run the second writer for the duration of the block; yield a dict filled with its counts."""
    ready, result, go = scratch / f"{name}.ready", scratch / f"{name}.json", go_file(scratch, name)
    for path in (ready, result, go):
        path.unlink(missing_ok=True)
    with open(scratch / f"{name}.out", "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "experiments.passes.contender", "--items", str(total), "--ready", str(ready),
             "--go", str(go), "--result", str(result), "--schema", schema],
            env=child_env(dsn), cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent(signal.SIGKILL))
    counts: dict = {}
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (scratch / f"{name}.out").read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"the contender did not start: {' '.join(tail) or 'no output'}")
            time.sleep(0.01)
        yield counts
    finally:
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with suppress(OSError, ValueError):
            counts.update(json.loads(result.read_text()))


def verify(conn: psycopg.Connection, schema: str, total: int):
    return verify_contended(conn, schema, total, set(contended_ids(total)))


def columns(rival: dict, check, timed) -> dict:
    """The contention columns of the pass's row: the contender's counts (`rival`), the
    verification's (`check`), and whether the strategy's process (`timed`) failed."""
    return {
        "contender_rows": rival.get("rows"), "contender_retries": rival.get("retries"),
        "contender_errors": sum(rival.get(k, 0) for k in ("unique_violations", "foreign_key_violations",
                                                          "other_errors")),
        "rows_won_by_contender": check.contender_rows,
        # a strategy that raised rolled back (or stopped): its unwritten rows are not torn
        "torn_rows": check.torn_rows if not timed.error else None,
    }
