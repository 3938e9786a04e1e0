"""The wire (issue 22): the relay counts turns and bytes exactly and holds each direction for half
the latency it adds (experiments/servers/relay.py), its CPU is not foreign load, a real driver's
counts through it are deterministic (k `SELECT 1` give k + a fixed number of turns, psycopg's
pipeline and psycopg2's execute_values need fewer turns than statements), and the round-trip time
is measured directly and through a relay (experiments/servers/wire.py)."""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager, nullcontext

import pandas as pd
import psycopg
import pytest

from analysis.build import build

from contract.manifest import Manifest
from experiments import REPO_ROOT
from experiments.passes.cpu import ForeignMeter
from experiments.servers.wire import WIRE_COLUMNS, Relay, Wire, round_trip_time, wire_columns
from experiments.urls import relayed

from conftest import FIXTURES, read_results, run_cli, wait_for_rows


# -- a line server: answers "ok\n" to every line it reads, until the client closes ----------------
@contextmanager
def line_server():
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            pending = b""
            while chunk := conn.recv(65536):
                pending += chunk
                lines = pending.count(b"\n")
                pending = pending.rsplit(b"\n", 1)[-1] if lines else pending
                if lines:
                    conn.sendall(b"ok\n" * lines)

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp:127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def relay_to(upstream: str, tmp_path, latency_ms: float = 0.0, tcp: bool = True):
    relay = Relay(upstream, latency_ms, tmp_path / f"relay-{latency_ms:g}", tcp).start()
    try:
        yield relay
    finally:
        relay.close()


def client(relay: Relay) -> socket.socket:
    conn = socket.create_connection((relay.host, relay.port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def receive(conn: socket.socket, answers: int) -> bytes:
    got = b""
    while got.count(b"\n") < answers:
        chunk = conn.recv(65536)
        assert chunk, "the relay closed the connection"
        got += chunk
    return got


def test_a_turn_is_the_client_sending_after_having_received(tmp_path):
    """Three sends, the last two one message in two pieces (the server cannot answer before its
    end): two turns; bytes each way exactly."""
    with line_server() as upstream, relay_to(upstream, tmp_path) as relay:
        with client(relay) as conn:
            conn.sendall(b"a\n")
            receive(conn, 1)
            conn.sendall(b"bb")
            time.sleep(0.01)  # two reads at the relay, nothing between them from the server
            conn.sendall(b"cc\n")
            receive(conn, 1)
        with client(relay) as conn:  # a second connection: its own counts
            for _ in range(5):
                conn.sendall(b"x\n")
                receive(conn, 1)
        report = relay.counts()
        assert relay.counts() == {"connections": [], "open": 0}  # reported once, then forgotten
    assert report == {"connections": [[2, 7, 6], [5, 10, 15]], "open": 0}
    assert wire_columns(report) == {"wire_connections": 2, "round_trips": 7, "round_trips_max_connection": 5,
                                    "bytes_to_server": 17, "bytes_from_server": 21}


def test_the_relay_holds_each_direction_for_half_the_latency_and_keeps_the_order(tmp_path):
    with line_server() as upstream, relay_to(upstream, tmp_path, latency_ms=4.0) as relay:
        with client(relay) as conn:
            times = []
            for _ in range(30):
                started = time.perf_counter()
                conn.sendall(b"ping\n")
                receive(conn, 1)
                times.append((time.perf_counter() - started) * 1000)
            # many small writes, each held and passed on in order
            lines = [f"{n}\n".encode() for n in range(2000)]
            for line in lines:
                conn.sendall(line)
            assert receive(conn, len(lines)) == b"ok\n" * len(lines)
    median = statistics.median(times)
    print(f"round trip through a relay adding 4 ms: median {median:.3f} ms, min {min(times):.3f} ms")
    assert min(times) >= 3.9  # each hold is 2 ms on average (timers set early by their lateness)
    assert median < 4.0 + 1.5  # sub-millisecond timers (select), not epoll's whole milliseconds


def test_a_unix_socket_relay_and_an_unreachable_server(tmp_path):
    """A relay listening on a Unix socket as libpq expects it (`<folder>/.s.PGSQL.5432`); a
    server that refuses: the client's connection is closed and still counted, and closed."""
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    with relay_to(f"tcp:127.0.0.1:{port}", tmp_path, tcp=False) as relay:
        assert relay.port is None and (tmp_path / "relay-0" / ".s.PGSQL.5432").is_socket()
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(tmp_path / "relay-0" / ".s.PGSQL.5432"))
            try:
                conn.sendall(b"hello\n")
                assert conn.recv(10) == b""  # closed: nothing behind it
            except (BrokenPipeError, ConnectionResetError):  # closed before, or with its data unread
                pass
        report = relay.counts()
    assert report["open"] == 0 and len(report["connections"]) == 1
    assert "cannot reach" in (tmp_path / "relay-0" / "relay.log").read_text()


def test_a_relayed_dsn_keeps_everything_but_where_it_connects():
    socket_dsn = "postgresql://postgres:p%40ss@/postgres?host=/tmp/x/socket&application_name=a&options=-csearch_path%3Ds"
    assert relayed(socket_dsn, "/tmp/r") == (
        "postgresql://postgres:p%40ss@/postgres?host=/tmp/r&application_name=a&options=-csearch_path%3Ds")
    tcp_dsn = "postgresql://bob:pw@db.example:6432/app?sslmode=require&host=other&port=1"
    assert relayed(tcp_dsn, "127.0.0.1", 40000) == "postgresql://bob:pw@127.0.0.1:40000/app?sslmode=require"
    assert relayed("postgresql://h/db", "/r", 5433) == "postgresql:///db?host=/r&port=5433"


def test_the_relays_cpu_is_the_runs_not_foreign_load():
    """A long-lived child of the harness is never reaped during a pass, so getrusage does not
    see it: the meter reads its CPU itself (as it does the relays', servers/wire.py)."""
    import psutil

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        child = psutil.Process(busy.pid)
        time.sleep(0.2)
        meters = [ForeignMeter(lambda: 0.0, True, lambda: sum(child.cpu_times()[:2])),
                  ForeignMeter(lambda: 0.0, True)]
        for meter in meters:
            meter.start()
        time.sleep(1.0)
        for meter in meters:
            meter.stop()
    finally:
        busy.kill()
        busy.wait()
    ours, blind = meters[0].columns(relayed=True), meters[1].columns()
    print(f"a busy child for 1 s: foreign {ours['foreign_cpu_s']:.3f} s when its CPU is read, "
          f"{blind['foreign_cpu_s']:.3f} s when not; relay_cpu_s {ours['relay_cpu_s']:.3f}")
    assert ours["relay_cpu_s"] > 0.2  # the busy child, on a core it may share with other work
    assert blind["foreign_cpu_s"] - ours["foreign_cpu_s"] == pytest.approx(ours["relay_cpu_s"], abs=0.1)
    assert "relay_cpu_s" not in meters[1].columns()


# -- a real server ------------------------------------------------------------------------------
@pytest.fixture
def wire(pg_dsn, tmp_path):
    """The wire of the suite's server, counting, with a relay adding 4 ms."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn, Wire(pg_dsn, conn, (None, 4.0), True, tmp_path) as made:
        yield made


def counted(wire: Wire, work) -> dict:
    """The wire columns of `work(dsn)` through the counting relay."""
    dsn = wire.memory_dsn()
    work(dsn)
    return wire.counts()


def selects(k: int):
    def work(dsn: str) -> None:
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
            # (by default psycopg prepares a query at its fifth execution: one turn more, once)
            for _ in range(k):
                conn.execute("SELECT 1").fetchone()
    return work


def test_k_select_1_are_k_turns_more_and_repeat_exactly(wire):
    one, eleven, again = (counted(wire, selects(k)) for k in (1, 11, 11))
    print(f"1 SELECT 1: {one}; 11: {eleven}")
    assert one["wire_connections"] == eleven["wire_connections"] == 1
    assert eleven["round_trips"] - one["round_trips"] == 10  # connecting and closing: a fixed number
    assert one["round_trips"] - 1 <= 6  # startup, authentication (SCRAM: two turns), closing
    assert eleven == again  # bytes too: deterministic
    assert wire.transport == "unix socket" and wire.upstream.startswith("unix:")


def test_pipeline_mode_and_execute_values_need_fewer_turns_than_statements(wire):
    import psycopg2
    import psycopg2.extras

    statements = 100

    def psycopg_rows(pipelined: bool):
        def work(dsn: str) -> None:
            with psycopg.connect(dsn) as conn:
                conn.execute("CREATE TEMP TABLE t (i int)")
                with conn.pipeline() if pipelined else nullcontext(), conn.cursor() as cur:
                    for i in range(statements):  # (executemany pipelines by itself since psycopg 3.1)
                        cur.execute("INSERT INTO t VALUES (%s)", (i,))
        return work

    def psycopg2_rows(values: bool):
        def work(dsn: str) -> None:
            with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
                cur.execute("CREATE TEMP TABLE t (i int)")
                rows = [(i,) for i in range(statements)]
                if values:
                    psycopg2.extras.execute_values(cur, "INSERT INTO t VALUES %s", rows, page_size=10)
                else:
                    cur.executemany("INSERT INTO t VALUES (%s)", rows)
            conn.close()
        return work

    plain, pipelined = counted(wire, psycopg_rows(False)), counted(wire, psycopg_rows(True))
    one_by_one, pages = counted(wire, psycopg2_rows(False)), counted(wire, psycopg2_rows(True))
    print(f"{statements} inserts: psycopg {plain['round_trips']} turns, in a pipeline {pipelined['round_trips']}; "
          f"psycopg2 executemany {one_by_one['round_trips']}, execute_values (10 a page) {pages['round_trips']}")
    assert plain["round_trips"] > statements and one_by_one["round_trips"] > statements
    assert pipelined["round_trips"] < statements // 2
    assert pages["round_trips"] < 10 + 15  # ten pages, connecting, the table, commit, closing


def test_the_round_trip_time_directly_and_through_a_relay(wire, pg_dsn):
    measured = wire.measure("start")
    direct, relay = measured
    print(wire.describe(measured))
    assert direct["path"] == "direct" and direct["added_latency_ms"] is None and direct["queries"] == 200
    assert relay["path"] == "relay" and relay["added_latency_ms"] == 4.0
    assert direct["min_ms"] <= direct["median_ms"] <= direct["p95_ms"] <= direct["max_ms"]
    assert direct["median_ms"] < 1.0  # a Unix socket on this machine: tens of microseconds
    # each hold is 2 ms on average; the processes' wake-ups after 2 ms asleep add a few tenths
    assert 3.9 <= relay["min_ms"] and relay["median_ms"] < 4.0 + direct["median_ms"] + 1.5
    assert wire.details()["round_trip_times"] == measured
    assert round_trip_time(pg_dsn, queries=20)["queries"] == 20


def test_the_manifest_reads_a_servers_wire():
    server = {"label": "embedded:18", "transport": "tcp", "wire_counts": "counted",
              "round_trip_times": [{"when": "start", "path": "relay", "added_latency_ms": 1.0, "queries": 200,
                                    "median_ms": 1.1, "p95_ms": 1.3, "min_ms": 1.0, "max_ms": 2.0}]}
    read = Manifest.from_dict({"servers": [server], "latencies": [None, 1.0]})
    assert read.servers[0].transport == "tcp" and read.servers[0].round_trip_times[0].median_ms == 1.1
    assert read.latencies == (None, 1.0)
    assert read.to_dict()["servers"][0] == {**server, "kind": None, "schema": None, "dsn": None, "server_version": None,
                                            "server_version_string": None, "version": None,
                                            "non_default_settings": {}}


# -- whole runs -------------------------------------------------------------------------------
COUNTED = ("psycopg2_execute_values", "psycopg2_row_by_row", "psycopg_copy_binary", "server_only_floor")


@pytest.mark.slow
def test_a_tcp_run_with_an_added_latency_records_the_wire(tmp_path):
    """`--transport tcp --latency direct,2`: every strategy at both, wire counts in every row
    (memory in both repeats) and identical across repeats and latencies; the manifest has the
    transport and the round-trip times; a 2 ms pass waits its round trips."""
    results = tmp_path / "results"
    done = run_cli("run", "--items", "100", "--repeat", "2", "--memory-repeats", "2", "--transport", "tcp",
                   "--latency", "direct,2", "--strategies", ",".join(COUNTED), "--results-dir", str(results))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "round trip (tcp, 200 x SELECT 1): direct median" in done.stdout and "+2 ms relay" in done.stdout
    folder, rows = read_results(results)
    assert len(rows) == len(COUNTED) * 2 * 2 * 2 and all(r["success"] == "True" for r in rows)
    counts = defaultdict(set)
    for r in rows:
        counts[(r["strategy"], r["phase"])].add(tuple(int(r[c]) for c in WIRE_COLUMNS))
        assert (r["via_relay"], float(r["latency_ms"])) in (("False", 0.0), ("True", 2.0))
        assert (r["relay_cpu_s"] != "") == (r["via_relay"] == "True")
    for (strategy, phase), seen in sorted(counts.items()):
        print(strategy, phase, dict(zip(WIRE_COLUMNS, next(iter(seen)))))
        assert len(seen) == 1, (strategy, phase, seen)
    turns = {(s, p): dict(zip(WIRE_COLUMNS, next(iter(seen))))["round_trips"] for (s, p), seen in counts.items()}
    assert turns[("psycopg2_row_by_row", "insert")] > 200 and turns[("psycopg_copy_binary", "insert")] < 40
    for r in rows:  # at 2 ms every turn waits 2 ms at least
        if r["via_relay"] == "True":
            assert float(r["duration_s"]) >= 0.002 * turns[(r["strategy"], r["phase"])] * 0.9, r
    manifest = Manifest.load(folder)
    server = manifest.servers[0]
    assert server.transport == "tcp" and "relay" in server.wire_counts and manifest.latencies == (None, 2.0)
    times = {(t.when, t.added_latency_ms): t for t in server.round_trip_times}
    assert set(times) == {("start", None), ("start", 2.0), ("end", None), ("end", 2.0)}
    assert times[("start", 2.0)].min_ms >= 2.0 and times[("end", None)].median_ms < 1.0
    assert set(manifest.repeats[server.label]) == {f"{s}+{lat}" for s in COUNTED for lat in ("direct", "2ms")}
    # make figures: the counts table and the cost at a distance, from this real run
    build(results, tmp_path / "figures", echo=lambda *_: None, kinds=["distance"])
    wire = pd.read_csv(tmp_path / "figures" / "wire.csv")
    assert len(wire) == len(COUNTED) * 2 and wire["identical"].all() and (wire["variant"] == "tcp").all()
    distance = pd.read_csv(tmp_path / "figures" / "distance.csv")
    chatty = distance[(distance["strategy"] == "psycopg2_row_by_row") & (distance["rtt_ms"] == 2.0)]
    assert len(chatty) == 2 and chatty["measured"].all() and (chatty["measured_rtt_ms"] >= 2.0).all()
    assert (chatty["local_rtt_ms"] < 1.0).all() and (chatty["turns"] == chatty["turns"].round()).all()
    assert (chatty["measured_over_predicted"] > 0.7).all(), chatty  # it waits at least its round trips
    assert len(list((tmp_path / "figures").glob("distance_items100_threads*_embedded_tcp.png"))) == 1


def relay_processes(runner_pid: int) -> list:
    import psutil

    try:
        children = psutil.Process(runner_pid).children(recursive=True)
    except psutil.Error:
        return []
    return [p for p in children if "experiments.servers.relay" in " ".join(p.cmdline())]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_relays_do_not_outlive_their_run(tmp_path, sig):
    """Interrupted (its cleanup runs) or killed outright (the kernel's parent-death signal): the
    run's relays end with it."""
    import psutil

    results = tmp_path / "results"
    runner = subprocess.Popen(
        [sys.executable, "-m", "experiments", "run", "--items", "40", "--repeat", "50", "--latency", "direct,1",
         "--strategies-dir", str(FIXTURES), "--strategies", "sleepy", "--results-dir", str(results)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_rows(results, 2, runner)
        relays = relay_processes(runner.pid)
        assert len(relays) == 2  # the counting relay and the 1 ms one
        runner.send_signal(sig)
        runner.wait(60)
    finally:
        if runner.poll() is None:
            runner.kill()
    gone, alive = psutil.wait_procs(relays, timeout=10)
    assert alive == []
