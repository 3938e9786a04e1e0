"""The relay: a pass-through proxy between a worker and its server that counts the wire and can
add latency. It runs as its own process, `python -m experiments.servers.relay`, started and read
by the harness (`experiments.servers.wire.Relay`).

It listens where a worker's DSN points (`--listen unix:/dir/.s.PGSQL.5432` or `tcp:127.0.0.1:0`,
the same transport the run's timed passes use, so the client speaks the protocol it speaks to
the server: libpq's SSL request over TCP, none over a Unix socket) and opens, per client
connection, one connection to the server (`--upstream unix:PATH` or `tcp:HOST:PORT`). Bytes pass
through untouched (TLS too). Per client connection it counts:

- **turns**: the times the client sends after having received (its first send counts too): the
  round trips a client waits for. A message the client writes in several pieces, or a stream
  the server does not answer meanwhile (COPY), is one turn; a pipelined client that sends on
  while results arrive may count more turns than it waited for, and then its count depends on
  timing (the tests show which strategies repeat exactly);
- bytes client -> server and server -> client.

`--delay-ms D` holds the data of each direction for D milliseconds (half the round-trip time the
run adds) before passing it on, in order. This machine's kernel has no netem queueing
discipline, so the delay is in user space; its timers run on `select()` (microseconds) instead
of asyncio's default epoll (whose timeouts are whole milliseconds, rounded up: 0.1 ms would
become 1 ms). A timer wakes late (on this 2-core VM by 0.07-0.14 ms, median), so the relay
learns how late its timers wake (`Lateness`: the 10th percentile of the last 50) and sets them
that much early: a hold is D or a few hundredths of a millisecond more, rarely less, rather than
D + 0.1 ms every time.

Control, on its standard streams: once listening it prints `{"listening": ...}` (the port a
`tcp:...:0` listener got); each line `counts` on stdin is answered with one JSON line
`{"connections": [[turns, bytes_to_server, bytes_from_server], ...], "open": n}` for the
connections accepted since the last answer, after waiting (at most --settle-s) for them to
close, and forgets them. End of stdin stops it (and the kernel stops it if the harness dies).

Why our own, in asyncio: socat (Debian) forwards but neither counts turns nor delays; toxiproxy
(a Go daemon with an HTTP API) adds latency but counts bytes per proxy, not turns per
connection, and is no package of this project's lock file; netem needs a kernel module this
machine lacks. The standard library does both jobs in one small process with no dependency, and
being a process of its own it shares no GIL with the harness, and its CPU time is measured
(the harness reads it and leaves it out of the pass's foreign load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import signal
import sys
from collections import deque

HIGH_WATER = 1 << 20  # bytes held for one direction before reading from its source pauses


class Counts:
    """One client connection's counts; `done` once both sides are closed and nothing is held."""

    def __init__(self) -> None:
        self.turns = 0
        self.to_server = 0
        self.from_server = 0
        self.last_from = ""  # "client" or "server": who sent last
        self.done = asyncio.Event()

    def client_sent(self, size: int) -> None:
        if self.last_from != "client":
            self.turns += 1
            self.last_from = "client"
        self.to_server += size

    def server_sent(self, size: int) -> None:
        self.last_from = "server"
        self.from_server += size


class Lateness:
    """How late the loop's timers wake: the 10th percentile of the last WINDOW wake-ups, so that
    `call_at` sets a timer that much early and it wakes on time or a little late, rarely early."""

    WINDOW = 50
    MOST_S = 0.001  # never assume more

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.recent: deque[float] = deque(maxlen=self.WINDOW)
        self.seconds = 0.0

    def call_at(self, when: float, callback) -> asyncio.TimerHandle:
        target = when - self.seconds

        def woken() -> None:
            self.recent.append(self.loop.time() - target)  # how late this timer woke
            self.seconds = min(sorted(self.recent)[len(self.recent) // 10], self.MOST_S)
            callback()

        return self.loop.call_at(target, woken)

    def due(self, when: float) -> bool:
        """`when` has come, or will have by the time a timer set now for it would wake."""
        return when - self.seconds <= self.loop.time()


class Direction:
    """Data of one direction on its way to `sink`: written at once, or `delay` seconds after it
    arrived, in order; the sink is closed once the source has closed and everything is written."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float, on_closed, lateness: Lateness) -> None:
        self.loop, self.delay, self.on_closed, self.lateness = loop, delay, on_closed, lateness
        self.sink: asyncio.Transport | None = None
        self.source: asyncio.Transport | None = None
        self.held: deque[tuple[float, bytes]] = deque()
        self.held_bytes = 0
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False  # the source closed
        self.paused = False

    def put(self, data: bytes) -> None:
        if self.delay <= 0 and not self.held:
            self._write(data)
            return
        self.held.append((self.loop.time() + self.delay, data))
        self.held_bytes += len(data)
        if self.held_bytes > HIGH_WATER and self.source is not None and not self.paused:
            self.source.pause_reading()
            self.paused = True
        if self.timer is None:
            self.timer = self.lateness.call_at(self.held[0][0], self._release)

    def _release(self) -> None:
        self.timer = None
        while self.held and self.lateness.due(self.held[0][0]):
            _, data = self.held.popleft()
            self.held_bytes -= len(data)
            self._write(data)
        if self.paused and self.held_bytes <= HIGH_WATER // 2 and self.source is not None:
            self.paused = False
            self.source.resume_reading()
        if self.held:
            self.timer = self.lateness.call_at(self.held[0][0], self._release)
        elif self.ended:
            self._close_sink()

    def _write(self, data: bytes) -> None:
        if self.sink is not None and not self.sink.is_closing():
            self.sink.write(data)

    def end(self) -> None:
        self.ended = True
        if not self.held:
            self._close_sink()

    def _close_sink(self) -> None:
        if self.sink is not None and not self.sink.is_closing():
            self.sink.close()
        self.on_closed()


class Side(asyncio.Protocol):
    """One end of a relayed connection: what it receives goes `out` (counted by `count`); what
    `back` carries is written to it."""

    def __init__(self, out: Direction, back: Direction, count, on_made=None) -> None:
        self.out, self.back, self.count, self.on_made = out, back, count, on_made
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.out.source = transport
        self.back.sink = transport
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        self.count(len(data))
        self.out.put(data)

    def pause_writing(self) -> None:  # our end's buffer is full: stop reading from the other end
        if self.back.source is not None:
            self.back.source.pause_reading()

    def resume_writing(self) -> None:
        if self.back.source is not None and not self.back.paused:
            self.back.source.resume_reading()

    def connection_lost(self, exc) -> None:
        self.out.end()


class Relay:
    def __init__(self, upstream: str, delay_s: float) -> None:
        self.upstream = upstream
        self.delay_s = delay_s
        self.accepted: list[Counts] = []
        self.lateness: Lateness | None = None  # of the running loop's timers

    def client(self) -> Side:
        """The protocol of an accepted client connection; the server's end is opened for it."""
        loop = asyncio.get_running_loop()
        self.lateness = self.lateness or Lateness(loop)
        counts = Counts()
        self.accepted.append(counts)
        ends = []  # each direction appends once its sink is closed

        def closed() -> None:
            ends.append(1)
            if len(ends) == 2:
                counts.done.set()

        to_server, to_client = (Direction(loop, self.delay_s, closed, self.lateness),
                                Direction(loop, self.delay_s, closed, self.lateness))

        def made(side: Side) -> None:
            side.transport.pause_reading()  # until the server's end is open
            loop.create_task(self._open_server(side, to_server, to_client, counts))

        return Side(to_server, to_client, counts.client_sent, made)

    async def _open_server(self, client: Side, to_server: Direction, to_client: Direction,
                           counts: Counts) -> None:
        loop = asyncio.get_running_loop()
        kind, _, where = self.upstream.partition(":")

        def server_side() -> Side:
            return Side(to_client, to_server, counts.server_sent)

        try:
            if kind == "unix":
                transport, _ = await loop.create_unix_connection(server_side, where)
            else:
                host, _, port = where.rpartition(":")
                transport, _ = await loop.create_connection(server_side, host.strip("[]"), int(port))
        except OSError as error:
            print(f"relay: cannot reach {self.upstream}: {error}", file=sys.stderr, flush=True)
            client.transport.close()  # its connection_lost ends to_server (no sink: nothing to close)
            to_client.end()
            return
        if client.transport.is_closing():  # the client left while we connected
            transport.close()
        else:
            client.transport.resume_reading()

    async def report(self, settle_s: float) -> dict:
        """The connections accepted since the last report, once closed (or after `settle_s`)."""
        taken, self.accepted = self.accepted, []
        waits = [asyncio.ensure_future(c.done.wait()) for c in taken if not c.done.is_set()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=settle_s)
            for wait in pending:
                wait.cancel()
        return {"connections": [[c.turns, c.to_server, c.from_server] for c in taken],
                "open": sum(not c.done.is_set() for c in taken)}


async def serve(listen: str, upstream: str, delay_s: float, settle_s: float) -> None:
    loop = asyncio.get_running_loop()
    relay = Relay(upstream, delay_s)
    kind, _, where = listen.partition(":")
    if kind == "unix":
        server = await loop.create_unix_server(relay.client, where)
        os.chmod(where, 0o700)
        listening = where
    else:
        host, _, port = where.rpartition(":")
        server = await loop.create_server(relay.client, host, int(port))
        listening = server.sockets[0].getsockname()[1]
    print(json.dumps({"listening": listening, "pid": os.getpid()}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"counts":
            print(json.dumps(await relay.report(settle_s)), flush=True)
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.servers.relay")
    parser.add_argument("--listen", required=True, help="unix:PATH or tcp:HOST:PORT (port 0: any free one)")
    parser.add_argument("--upstream", required=True, help="unix:PATH or tcp:HOST:PORT of the server")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold each direction's data this long")
    parser.add_argument("--settle-s", type=float, default=10.0, help="longest wait for connections to close")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())  # microsecond timers (docstring)
    try:
        loop.run_until_complete(serve(args.listen, args.upstream, args.delay_ms / 1000, args.settle_s))
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
