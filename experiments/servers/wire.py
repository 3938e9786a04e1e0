"""The wire between the strategies and one server of a run: its transport, its round-trip time,
and the relays (`experiments/servers/relay.py`, each a child process) that count what crosses it
and add latency.

`Wire` (one per server, for the server's whole part of the run):
- knows how the strategies reach the server (`transport`: unix socket, tcp or tls), read from
  the harness's own connection, which uses the strategies' DSN;
- starts a relay without delay whose counts the memory-tracked process of a pass goes through
  (`memory_dsn`, `counts`): the wire counts of every pass that measures memory, untimed;
- starts a relay per `--latency` value for the timed processes (`timed_dsn`);
- measures the round-trip time at the start and the end of the server's work (`measure`):
  RTT_QUERIES `SELECT 1` on a fresh connection, directly and through each latency relay;
- reads the relays' CPU time (`cpu_seconds`), which a pass's foreign load leaves out: relays are
  long-lived children of the harness, which `getrusage(RUSAGE_CHILDREN)` never sees.
A relay listens on the transport the server is reached by (a Unix socket in the harness's scratch
folder, or 127.0.0.1), so the client speaks to it exactly as to the server.
"""

from __future__ import annotations

import json
import logging
import math
import os
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from experiments import REPO_ROOT
from experiments.process import die_with_parent
from experiments.urls import relayed

log = logging.getLogger("experiments.wire")
RTT_QUERIES = 200  # SELECT 1 per measurement
RTT_WARMUP = 10  # queries first, not timed (the connection's first statements prepare caches)
START_TIMEOUT_S = 20
COUNTS_SETTLE_S = 10  # how long the relay waits for a pass's connections to close
WIRE_COLUMNS = ("wire_connections", "round_trips", "round_trips_max_connection", "bytes_to_server",
                "bytes_from_server")


def upstream(conn: psycopg.Connection) -> str:
    """Where `conn` reached its server, as the relay's `--upstream`: unix:PATH or tcp:HOST:PORT."""
    host, port = conn.info.host, conn.info.port
    if host.startswith("/"):
        return f"unix:{host}/.s.PGSQL.{port}"
    return f"tcp:{conn.info.hostaddr or host}:{port}"


def transport(conn: psycopg.Connection) -> str:
    """`unix socket`, `tcp` or `tls (<protocol>)`: how `conn` reaches its server."""
    if conn.info.host.startswith("/"):
        return "unix socket"
    if not conn.pgconn.ssl_in_use:
        return "tcp"
    try:
        version = conn.execute("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    except psycopg.Error:  # a pooler's own console, say: the protocol stays unnamed
        version = None
    return f"tls ({version[0]})" if version and version[0] else "tls"


def round_trip_time(dsn: str, queries: int = RTT_QUERIES) -> dict:
    """Median, 95th percentile, least and most of `queries` timed `SELECT 1` (one round trip
    each) on a fresh connection to `dsn`, in milliseconds."""
    # prepare_threshold=None: psycopg would prepare `SELECT 1` (`_pg3_0`) after 5 executions,
    # and behind a transaction-mode pooler the next measurement's server connection may already
    # hold that name ("already exists") or lack it; every query stays one simple round trip
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10, prepare_threshold=None) as conn:
        for _ in range(RTT_WARMUP):
            conn.execute("SELECT 1").fetchone()
        times = []
        for _ in range(queries):
            started = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"queries": queries, "median_ms": round(statistics.median(times), 4),
            "p95_ms": round(times[math.ceil(0.95 * queries) - 1], 4), "min_ms": round(times[0], 4),
            "max_ms": round(times[-1], 4)}


def wire_columns(report: dict) -> dict:
    """A relay's report of one process as PassRow's wire columns."""
    connections = report["connections"]
    return {"wire_connections": len(connections),
            "round_trips": sum(c[0] for c in connections),
            "round_trips_max_connection": max((c[0] for c in connections), default=0),
            "bytes_to_server": sum(c[1] for c in connections),
            "bytes_from_server": sum(c[2] for c in connections)}


class Relay:
    """The harness's handle on one relay process: started by `start()`, stopped by `close()`."""

    def __init__(self, upstream_at: str, latency_ms: float, folder: Path, tcp: bool):
        """`latency_ms`: the round-trip time it adds (each direction holds half of it)."""
        self.upstream, self.latency_ms, self.folder, self.tcp = upstream_at, latency_ms, folder, tcp
        self.process: subprocess.Popen | None = None
        self.host, self.port = "", None

    def start(self) -> Relay:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        listen = "tcp:127.0.0.1:0" if self.tcp else f"unix:{self.folder / '.s.PGSQL.5432'}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
        with open(self.folder / "relay.log", "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "experiments.servers.relay", "--listen", listen, "--upstream", self.upstream,
                 "--delay-ms", repr(self.latency_ms / 2), "--settle-s", str(COUNTS_SETTLE_S)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=REPO_ROOT,
                start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM))
        started = json.loads(self._line(START_TIMEOUT_S) or "{}")
        if "listening" not in started:
            raise RuntimeError(f"the relay to {self.upstream} did not start: {self.log_tail()}")
        self.host, self.port = ("127.0.0.1", started["listening"]) if self.tcp else (str(self.folder), None)
        return self

    def _line(self, timeout_s: float) -> str:
        if select.select([self.process.stdout], [], [], timeout_s)[0]:
            return self.process.stdout.readline().decode()
        return ""

    def log_tail(self) -> str:
        try:
            lines = (self.folder / "relay.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else "(no output)"

    def dsn(self, dsn: str) -> str:
        """`dsn` through this relay."""
        return relayed(dsn, self.host, self.port)

    def counts(self) -> dict:
        """The relay's report of the connections since the last one (relay.py's `counts`)."""
        self.process.stdin.write(b"counts\n")
        self.process.stdin.flush()
        return json.loads(self._line(COUNTS_SETTLE_S + 10) or '{"connections": [], "open": -1}')

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the relay process has used so far."""
        import psutil

        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.close()  # end of its standard input: it stops
            process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        process.stdout.close()


class Wire:
    """One server's wire (module docstring). `latencies`: the run's --latency values (None:
    direct, no relay); `count`: relay the memory-tracked processes to count them."""

    def __init__(self, dsn: str, conn: psycopg.Connection, latencies: tuple[float | None, ...],
                 count: bool, folder: Path):
        self.dsn = dsn
        self.transport = transport(conn)
        self.upstream = upstream(conn)
        self.latencies = latencies
        self.why_not_counted = "" if count else "memory not measured (--no-memory): no memory process to relay"
        if count and conninfo_to_dict(dsn).get("sslmode") == "verify-full":
            self.why_not_counted = "not counted: sslmode=verify-full checks the server's name, a relay's is not"
        added = {latency for latency in latencies if latency is not None} | ({0.0} if self.counting else set())
        tcp = not self.upstream.startswith("unix:")
        self.relays = {latency: Relay(self.upstream, latency, folder / f"relay-{latency:g}ms", tcp)
                       for latency in sorted(added)}
        self.round_trip_times: list[dict] = []

    def __enter__(self) -> Wire:
        try:
            for relay in self.relays.values():
                relay.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()

    @property
    def counting(self) -> bool:
        return not self.why_not_counted

    def memory_dsn(self) -> str:
        """The DSN of a memory-tracked process: through the counting relay when there is one,
        whose counts so far (a timed process at latency 0, a measurement) are dropped."""
        if not self.counting:
            return self.dsn
        self.relays[0.0].counts()
        return self.relays[0.0].dsn(self.dsn)

    def counts(self) -> dict:
        """The wire columns of the memory process that just ended ({} when not counted)."""
        if not self.counting:
            return {}
        report = self.relays[0.0].counts()
        if report.get("open"):
            log.warning("%s connection(s) still open after %s s: their counts so far are included",
                        report["open"], COUNTS_SETTLE_S)
        return wire_columns(report)

    def timed_dsn(self, latency: float | None) -> str:
        """The DSN of a timed process at `latency` (None: direct)."""
        return self.dsn if latency is None else self.relays[latency].dsn(self.dsn)

    def relay_cpu_seconds(self, latency: float | None = None) -> float:
        """CPU time so far of the relay of `latency`, or of every relay (latency None)."""
        if latency is not None:
            return self.relays[latency].cpu_seconds()
        return sum(relay.cpu_seconds() for relay in self.relays.values())

    def measure(self, when: str) -> list[dict]:
        """The round-trip time now (`when`: start or end), directly and through each latency's
        relay; kept for the manifest and returned."""
        measured = []
        for latency in self.latencies if None in self.latencies else (None, *self.latencies):
            measured.append({"when": when, "path": "direct" if latency is None else "relay",
                             "added_latency_ms": latency, **round_trip_time(self.timed_dsn(latency))})
        self.round_trip_times += measured
        return measured

    def details(self) -> dict:
        """What the manifest records of this server's wire."""
        return {"transport": self.transport,
                "wire_counts": self.why_not_counted or (
                    "the memory-tracked process of each pass reached the server through a relay that "
                    "counted per connection the turns (the client sending after having received) and the "
                    "bytes each way (experiments/servers/relay.py)"),
                "round_trip_times": self.round_trip_times}

    def describe(self, measured: list[dict]) -> str:
        """One line for the console: the round-trip times just measured."""
        parts = [("direct" if m["added_latency_ms"] is None else f"+{m['added_latency_ms']:g} ms relay")
                 + f" median {m['median_ms']:.3f} ms, p95 {m['p95_ms']:.3f} ms" for m in measured]
        return f"round trip ({self.transport}, {RTT_QUERIES} x SELECT 1): " + "; ".join(parts)
