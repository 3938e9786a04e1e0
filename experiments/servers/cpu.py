"""What a server's processes used of the CPU so far, split as the rows record it: the pass's
backends (`server_cpu_s`) and the server's background processes (`background_cpu_s`).

PostgreSQL names every process in its title (`postgres: checkpointer`, `postgres: user db
[local] INSERT`); a process whose title is one of BACKGROUND's kinds is background work, any
other child of the postmaster (client backends, parallel workers serving their queries) is a
backend. A process that has exited cannot be told apart any more: its time is in the
postmaster's children times, counted with the backends (an autovacuum worker that exits lands
there too).
"""

from __future__ import annotations

from dataclasses import dataclass

# the server's own processes, by the title PostgreSQL gives them (after "postgres: " and an
# optional cluster_name), from PostgreSQL 13 to 18
BACKGROUND = ("checkpointer", "background writer", "walwriter", "wal writer", "autovacuum launcher",
              "autovacuum worker", "logical replication", "io worker", "walsummarizer", "wal summarizer",
              "stats collector", "archiver", "startup", "walreceiver", "walsender", "slotsync worker",
              "logger")


def is_background(title: str) -> bool:
    """`postgres: checkpointer` -> True; `postgres: postgres postgres [local] idle` -> False."""
    kind = title.strip().split(": ")[-1].strip()
    return kind.startswith(BACKGROUND)


@dataclass(frozen=True)
class CpuReading:
    """CPU seconds (user + system) so far."""

    backends: float  # live client backends (the excluded ones aside), the postmaster itself and
    #                  every child it reaped (exited backends, autovacuum workers, ...)
    background: float | None  # live background processes; None where they cannot be told apart
    #                  (a Docker container's cgroup: everything is in `backends`)
    excluded: float = 0.0  # the live processes the caller named (the harness's own backend)

    @property
    def total(self) -> float:
        """Every process of the server."""
        return self.backends + (self.background or 0.0) + self.excluded
