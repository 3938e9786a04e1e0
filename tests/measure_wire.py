"""Not a test: the measurement behind `--transport`'s default and the relay's own cost (issue 22).

    .nox/tests/bin/python tests/measure_wire.py ROUNDS STRATEGY[,STRATEGY...] [--items N]

One embedded cluster listening on its Unix socket and on loopback TCP (`Cluster(tcp=True)`), and
a relay without delay in front of its socket (`servers.wire.Relay`, as `--latency 0` uses). Every
round runs each strategy through the three doors (socket, tcp, relay) in a shuffled order, insert
and update, through the harness's own `PassRunner` (the same prepare, timed worker, verify as a
run). Before each round it waits until the machine is quiet (other processes under 10% of a core
for 5 s); a (round, strategy) with a pass under foreign load is left out of the ratios. It prints,
per strategy and phase, the median durations and the geometric mean of the per-round ratios
tcp/socket and relay/socket with their 95% t-intervals, and the relay's median added time.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from contract.ranking import geometric_interval  # noqa: E402
from contract.row import under_foreign_load  # noqa: E402
from contract.workload import DEFAULT_PHASES as PHASES, Keys, Workload  # noqa: E402
from experiments.catalog import discover, select  # noqa: E402
from experiments.config import load_settings  # noqa: E402
from experiments.database import schema  # noqa: E402
from experiments.passes.cpu import machine_cpu_seconds  # noqa: E402
from experiments.passes.one_pass import PassRunner  # noqa: E402
from experiments.servers import Target, describe_server  # noqa: E402
from experiments.servers.cluster import Cluster  # noqa: E402
from experiments.servers.embedded import embedded_versions, newest_embedded  # noqa: E402
from experiments.servers.sessions import connect_in_schema  # noqa: E402
from experiments.servers.wire import Relay, transport  # noqa: E402
from experiments.urls import relayed  # noqa: E402

DOORS = {None: "socket", 1.0: "tcp", 0.0: "relay"}  # PassRunner's `latency` picks the door


class Doors:
    """What PassRunner asks of a Wire, with a door per `latency` key."""

    def __init__(self, dsns: dict, relay: Relay):
        self.dsns, self.relay = dsns, relay

    def timed_dsn(self, latency):
        return self.dsns[latency]

    def relay_cpu_seconds(self):
        return self.relay.cpu_seconds()


def wait_quiet(seconds: float = 5.0, share: float = 0.10) -> None:
    while True:
        before = machine_cpu_seconds()[0]
        time.sleep(seconds)
        if machine_cpu_seconds()[0] - before < share * seconds:
            return


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", type=int)
    parser.add_argument("strategies")
    parser.add_argument("--items", default="10000")
    args = parser.parse_args()
    settings = load_settings({"MEASURE_MEMORY": "0", "STRATEGIES": args.strategies, "TOTAL_ITEMS": args.items})
    strategies = select(discover(settings.path(settings.strategies_dir)), settings.strategies)
    scratch = Path(tempfile.mkdtemp(prefix="upsert-bench-worker-"))
    with Cluster(embedded_versions()[newest_embedded()], "measure", tcp=True) as cluster:
        tcp_dsn = cluster.dsn
        port = int(tcp_dsn.rsplit(":", 1)[1].split("/")[0])
        socket_dsn = relayed(tcp_dsn, str(cluster.root / "socket"), port)
        relay = Relay(f"unix:{cluster.root / 'socket'}/.s.PGSQL.{port}", 0.0, scratch / "relay", tcp=False).start()
        dsns = {None: socket_dsn, 1.0: tcp_dsn, 0.0: relay.dsn(socket_dsn)}
        with psycopg.connect(socket_dsn, autocommit=True) as a, psycopg.connect(tcp_dsn) as b:
            info = describe_server(a)
            print(f"PostgreSQL {info['server_version']}: doors {transport(a)}, {transport(b)}, relay", flush=True)
        target = Target("embedded", "embedded:measure", socket_dsn, "public", info["server_version"], info,
                        cluster.lost, cluster.cpu_reading)
        rows = []
        with connect_in_schema(socket_dsn, "public", "measure") as conn:
            schema.create_tables(conn, "public")
            schema.load_start(conn, "public", Keys(settings.items))
            for phase in PHASES:
                schema.load_stage(conn, Workload(socket_dsn, settings.items, phase, settings.threads, "public"))
            runner = PassRunner(settings, target, conn, run_id="measure", seed=1, application="measure",
                                scratch=scratch, captures=None, wire=Doors(dsns, relay))
            rng = random.Random(1)
            for number in range(1, args.rounds + 1):
                wait_quiet()
                for strategy in rng.sample(strategies, len(strategies)):
                    for latency in rng.sample(list(DOORS), len(DOORS)):
                        for phase in PHASES:
                            row = runner.measure(strategy, phase, number, 1, latency=latency)
                            assert row.success, row.error
                            rows.append(dict(strategy=strategy.name, phase=phase, round=number, door=DOORS[latency],
                                             s=row.duration_s, relay_cpu_s=row.relay_cpu_s,
                                             foreign=under_foreign_load(row.foreign_cpu_s, row.wall_s)))
                print(f"round {number}: {sum(r['foreign'] for r in rows if r['round'] == number)} passes under "
                      "foreign load", flush=True)
        relay.close()
    report(rows)


def report(rows: list[dict]) -> None:
    spoiled = {(r["round"], r["strategy"]) for r in rows if r["foreign"]}
    print(f"\n{len(rows)} passes; (round, strategy) left out for foreign load: {len(spoiled)}")
    for name in sorted({r["strategy"] for r in rows}):
        for phase in PHASES:
            clean = [r for r in rows if r["strategy"] == name and r["phase"] == phase
                     and (r["round"], name) not in spoiled]
            by = {door: {r["round"]: r["s"] for r in clean if r["door"] == door} for door in DOORS.values()}
            base = by["socket"]
            if len(base) < 2:
                print(f"{name} {phase}: too few clean rounds")
                continue
            parts = [f"socket {statistics.median(base.values()):.4f} s"]
            for door in ("tcp", "relay"):
                ratios = [by[door][k] / base[k] for k in base]
                mean, low, high = geometric_interval([math.log(x) for x in ratios])
                parts.append(f"{door} {statistics.median(by[door].values()):.4f} s, x{mean:.3f} ({low:.3f}-{high:.3f})")
            added = statistics.median(by["relay"][k] - base[k] for k in base)
            cpu = statistics.median(r["relay_cpu_s"] for r in clean if r["door"] == "relay")
            print(f"{name} {phase} (n={len(base)}): " + "; ".join(parts)
                  + f"; relay adds {1000 * added:+.2f} ms (its CPU {1000 * cpu:.1f} ms)", flush=True)


if __name__ == "__main__":
    main()
