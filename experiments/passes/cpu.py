"""CPU time around a pass's timed process: the whole machine's, this run's own, and so what other
processes took meanwhile (`foreign_cpu_s`, `steal_s`; contract.row.under_foreign_load).

- The machine: /proc/stat's `cpu` line, user + nice + system + irq + softirq + steal over every
  CPU (guest time is inside user and nice; idle and iowait are not busy), in the kernel's
  USER_HZ ticks; steal (time a hypervisor gave other guests) also on its own.
- This run: the harness process (every thread) and the children it has waited for
  (`getrusage` SELF + CHILDREN: the worker and, with --contention, the second writer, both
  reaped before the span ends), its long-lived children, which it never waits for during a pass
  (the relays of servers/wire.py: their own CPU times, read at both ends), and every process of
  the server (`Target.cpu_seconds` with nothing excluded: the harness's own backend is this
  run's too).

What is left is other processes' work. It is unknown (None) without /proc/stat (macOS), and for
servers whose processes we cannot see: a --dsn server (its work would count as foreign) and a
Docker container (asking the engine for its usage is work of dockerd inside the span).
"""

from __future__ import annotations

import os
import resource

TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system [idle iowait] irq softirq steal


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole machine since boot, None without /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    ticks = [int(v) for v in fields[1:9]]
    return sum(ticks[i] for i in BUSY_FIELDS) * TICK_S, ticks[7] * TICK_S


def own_cpu_seconds() -> float:
    """CPU seconds of the harness (all threads) and of its children it has waited for."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class ForeignMeter:
    """Read the clocks at `start()` and at `stop()`; `columns()` gives the row's `foreign_cpu_s`
    and `steal_s` (None where one cannot be known), and the relays' CPU meanwhile."""

    def __init__(self, server_cpu_seconds, server_visible: bool, relays_cpu_seconds=None):
        self.server = server_cpu_seconds  # () -> every server process's CPU so far, or None
        self.visible = server_visible
        self.relays = relays_cpu_seconds or (lambda: 0.0)  # () -> the harness's relays' CPU so far
        self.start_at: tuple | None = None
        self.stop_at: tuple | None = None

    def _read(self, server_first: bool) -> tuple:
        # the machine's clock outermost, so that it spans the others' readings
        if server_first:
            server, relays, own, machine = self.server(), self.relays(), own_cpu_seconds(), machine_cpu_seconds()
        else:
            machine, own, relays, server = machine_cpu_seconds(), own_cpu_seconds(), self.relays(), self.server()
        return machine, own + relays, server, relays

    def start(self) -> None:
        self.start_at = self._read(server_first=False)

    def stop(self) -> None:
        self.stop_at = self._read(server_first=True)

    def columns(self, relayed: bool = False) -> dict:
        """`relayed`: the timed process went through a relay: its CPU is `relay_cpu_s`."""
        if self.start_at is None or self.stop_at is None:
            return {}
        (m0, own0, s0, r0), (m1, own1, s1, r1) = self.start_at, self.stop_at
        relay = {"relay_cpu_s": round(r1 - r0, 6)} if relayed else {}
        if m0 is None or m1 is None:
            return relay
        steal = round(m1[1] - m0[1], 6)
        if not self.visible or s0 is None or s1 is None:
            return {**relay, "steal_s": steal}
        foreign = (m1[0] - m0[0]) - (own1 - own0) - (s1 - s0)
        return {**relay, "foreign_cpu_s": round(foreign, 6), "steal_s": steal}


class MainSpan:
    """The server's CPU over the worker's `main()` alone: `on_mark` (given to `run_worker`)
    reads it when the worker marks the start and the end (experiments.process._MarkPipes);
    `columns()` gives `server_cpu_s` (the pass's backends, the postmaster and every child that
    exited meanwhile) and `background_cpu_s` (the server's live background processes). Both
    empty when a reading is missing: the worker died inside main() or the server is not ours."""

    def __init__(self, read):
        self.read = read  # () -> a servers.cpu.CpuReading, or None
        self.readings: dict = {}

    def on_mark(self, what: str) -> None:
        if what in ("start", "end"):
            self.readings[what] = self.read()

    def columns(self) -> dict:
        start, end = self.readings.get("start"), self.readings.get("end")
        if start is None or end is None:
            return {}
        background = (None if start.background is None or end.background is None
                      else round(end.background - start.background, 6))
        return {"server_cpu_s": round(end.backends - start.backends, 6), "background_cpu_s": background}
