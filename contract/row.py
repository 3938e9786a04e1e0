"""`PassRow`: one row of `results.csv`, one pass (strategy x phase x repeat x server).

The single definition of the result row (a **contract**, see DESIGN.md). From it follow:
the CSV header (`COLUMNS`, in field order), the row the harness writes (`experiments` builds a
`PassRow`), the columns the analysis requires and how it reads each one (`REQUIRED`,
`BOOL_COLUMNS`, `NUMERIC_COLUMNS`, `TEXT_COLUMNS`), and the table in DESIGN.md (`markdown_table`,
checked by tests/test_row_model.py). Columns are never renamed or removed; new ones go at the
end (older runs, which lack them, stay readable).
"""

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields

GROUPS = {
    "contract": "the design card's columns, in its order",
    "addition": "added by this project",
    "contention": "contention mode (`--contention`), update pass only; empty otherwise",
    "cost": "where the time goes: CPU of the strategy's process and of the server during the timed "
            "process, and what the harness itself spent on the pass",
    "rows": "what the tables and the input hold around the pass (`--table-rows`, `--duplicate-keys`, "
            "`--hit-ratio`): configurations, never pooled",
    "wire": "the wire: the latency the timed process ran at, and what crossed the wire in the pass's "
            "memory-tracked process (through a relay that counts; empty in passes without one)",
    "checkpoint": "the pass's starting state (a CHECKPOINT before it, or the steady state of `--no-checkpoint`) "
                  "and the full-page images its WAL holds",
}
ERROR_KINDS = ("unique_violation", "cardinality_violation", "deadlock", "serialization_failure", "timeout", "server_lost",
               "too_many_connections", "wrong_values", "other")


def column(doc: str, group: str = "contract", required: bool = False, default=MISSING):
    """A field of the row: `doc` says what it holds; `required`: the analysis refuses a
    results.csv without it (every other column may be missing from an older run)."""
    meta = {"doc": doc, "group": group, "required": required}
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class PassRow:
    run_id: str = column("the run (its folder's name)", required=True)
    strategy: str = column("the strategy file's name", required=True)
    phase: str = column("`insert`, `update`, `mixed` or `unchanged`", required=True)
    repeat: int = column("which repeat (1-based)", required=True)
    items: int = column("rows per table", required=True)
    threads: int = column("threads a threaded strategy uses", required=True)
    backend: str = column("`embedded`, `local`, `docker` or `dsn`", required=True)
    pg_version: str = column("the server's version number, e.g. `18.1`", required=True)
    duration_s: float | None = column("`main()` alone, in the plain (untracked) process", required=True,
                                      default=None)
    wall_s: float | None = column("that whole process: start, imports, building rows, `main()`, exit",
                                  default=None)
    peak_memory_mb: float | None = column("peak heap memory of the pass, from memray (second process)",
                                          required=True, default=None)
    allocations: int | None = column("allocations memray counted in that process", default=None)
    max_rss_mb: float | None = column("peak resident memory of the plain process (its VmHWM, else wait4's rusage)",
                                      default=None)
    users: int | None = column("rows in `users` after the pass", default=None)
    addresses: int | None = column("rows in `addresses` after the pass", default=None)
    counts_ok: bool = column("both tables hold exactly `items` rows")
    values_ok: bool = column("every value of every row is the phase's (checksums)")
    success: bool = column("the pass ran, verified, and (with memory) so did its memray process",
                           required=True)
    error: str = column("why it failed, one line (empty when it succeeded)", default="")
    wal_bytes: int | None = column("WAL the server wrote during the timed process", default=None)
    table_bytes: int | None = column("size of both tables and their indexes after the pass", default=None)
    dead_tuples: int | None = column("dead tuples the pass left (pg_stat_user_tables)", default=None)
    hot_updates: int | None = column("heap-only-tuple updates during the pass", default=None)
    test: str = column("`<strategy>-<phase>`, the original project's name for a row", "addition")
    connections: int | None = column("connections the timed process opened (pg_stat_database.sessions)",
                                     "addition", default=None)
    statements: int | None = column("statements it ran (pg_stat_statements when preloaded; else empty)",
                                    "addition", default=None)
    library: str = column("TAGS['library']", "addition")
    technique: str = column("TAGS['technique']", "addition")
    reference: bool = column("a reference row (the server-only floor), not a strategy to rank",
                             "addition")
    memory_duration_s: float | None = column("`main()` inside the memray-tracked process (its overhead)",
                                             "addition", default=None)
    memory_max_rss_mb: float | None = column("that process's peak RSS, memray's own included",
                                             "addition", default=None)
    order: int = column("position of the strategy in this repeat's shuffled order", "addition")
    seed: int = column("seed of the shuffle", "addition")
    server: str = column("the server's label, e.g. `embedded:18`", "addition")
    started_at: str = column("when the pass started (UTC, ISO 8601)", "addition")
    error_kind: str = column("the failure's kind: " + ", ".join(ERROR_KINDS), "addition", default="")
    contention: bool = column("this pass raced a second writer", "contention", default=False)
    contender_rows: int | None = column("rows the second writer wrote", "contention", default=None)
    contender_retries: int | None = column("its retries", "contention", default=None)
    contender_errors: int | None = column("its errors (unique and foreign-key violations, others)",
                                          "contention", default=None)
    rows_won_by_contender: int | None = column("contended rows holding the second writer's values",
                                               "contention", default=None)
    torn_rows: int | None = column("rows holding neither writer's values (must be 0)", "contention",
                                   default=None)
    client_cpu_s: float | None = column("CPU time (user + system) of the strategy's process during `main()`: "
                                        "all its threads, and child processes it waited for", "cost",
                                        default=None)
    server_cpu_s: float | None = column(
        "CPU time of the server's backends during `main()` alone: live client backends (the harness's own "
        "aside), parallel workers, the postmaster, and every server process that exited meanwhile (an "
        "autovacuum worker exiting during `main()` lands here too); with --contention the second writer's "
        "backend is included. In runs whose manifest has `cpu_split` `main-only`; without it (older runs) "
        "every server process from the timed process's start to after the settle wait. Docker: every "
        "process of the container (its cgroup). Empty for a --dsn server (manifest says why)",
        "cost", default=None)
    pass_s: float | None = column("the whole pass as the harness saw it: restores, both processes, "
                                  "verifications, counters", "cost", default=None)
    prepare_s: float | None = column("restoring the starting state (with VACUUM, CHECKPOINT), all of the "
                                     "pass's restores", "cost", default=None)
    verify_s: float | None = column("verifying every value, all of the pass's verifications", "cost",
                                    default=None)
    settle_s: float | None = column("waiting for the server's counters after the timed process (and reading "
                                    "its WAL's full-page images: `wal_fpi_bytes`)", "cost", default=None)
    memory_wall_s: float | None = column("the memray-tracked process from start to exit, capture read "
                                         "included (empty when memory was not measured in this pass)",
                                         "cost", default=None)
    foreign_cpu_s: float | None = column(
        "CPU time other processes took while the timed process ran: the machine's busy time (/proc/stat: "
        "user, nice, system, irq, softirq, steal, every CPU) less the harness's own (its threads, the worker "
        "and its children) and every server process's; counted in 10 ms ticks, so a few hundredths either "
        "side of 0 is rounding. Above 10% of one core over `wall_s` (and 0.05 s) the pass ran under "
        "foreign load (`under_foreign_load`) and its duration is suspect. Empty where unknown: a --dsn or "
        "Docker server, no /proc/stat. Recorded since the one-run-at-a-time lock (manifest `concurrency`)",
        "cost", default=None)
    steal_s: float | None = column("CPU time the hypervisor gave other guests over the same span (/proc/stat "
                                   "steal, every CPU; part of `foreign_cpu_s`); empty without /proc/stat",
                                   "cost", default=None)
    background_cpu_s: float | None = column(
        "CPU time of the server's live background processes during `main()` alone (checkpointer, "
        "background writer, WAL writer, autovacuum launcher and workers, logical replication launcher, "
        "I/O workers, ...: told apart by their process titles); empty for --dsn and Docker servers and in "
        "runs before the manifest's `cpu_split` `main-only`", "cost", default=None)
    latency_ms: float = column(
        "round-trip time added to the timed process (`--latency`), ms: a relay held each direction's data "
        "for half of it; 0 when none. A configuration: passes of different latencies are never pooled",
        "wire", default=0.0)
    via_relay: bool = column("the timed process reached the server through the relay (`--latency`, `0` "
                             "included); False: directly", "wire", default=False)
    wire_connections: int | None = column("connections the memory-tracked process opened through the relay",
                                          "wire", default=None)
    round_trips: int | None = column(
        "turns on those connections, summed: the times the client sent after having received (its first "
        "send included), i.e. the round trips it waited for; connecting and authenticating included",
        "wire", default=None)
    round_trips_max_connection: int | None = column(
        "the most turns on one of those connections: what bounds a strategy that spreads its work over "
        "several connections at once", "wire", default=None)
    bytes_to_server: int | None = column("bytes the client sent to the server on them (TLS included when "
                                         "used)", "wire", default=None)
    bytes_from_server: int | None = column("bytes the server sent back on them", "wire", default=None)
    relay_cpu_s: float | None = column("CPU time of the relay while the timed process ran through it "
                                       "(`--latency`); empty when it connected directly", "wire", default=None)
    table_rows: int = column("other rows each table held before the pass, untouched by it (`--table-rows`)",
                             "rows", default=0)
    duplicate_keys: float = column("percent of the pass's keys given twice in its input, stale values first "
                                   "(`--duplicate-keys`)", "rows", default=0.0)
    hit_ratio: float | None = column("share of the keys that existed before a mixed pass (`--hit-ratio`); "
                                     "empty in other phases", "rows", default=None)
    wal_fpi: int | None = column(
        "full-page images written over the span of `wal_bytes` (pg_stat_wal.wal_fpi, a count for the whole "
        "server: every process that reported its statistics by then; the pass's backends do as they exit)",
        "checkpoint", default=None)
    wal_fpi_bytes: int | None = column(
        "bytes of the full-page images in the WAL between the LSNs of `wal_bytes` (part of it): `pg_waldump "
        "--stats` on a cluster the run started, else pg_walinspect where installed; empty where neither "
        "can read it (the manifest's `servers` say why)", "checkpoint", default=None)
    checkpoint: bool = column(
        "the pass started right after a CHECKPOINT (the default: the first change to each page writes a "
        "full-page image); False with `--no-checkpoint` or on a server that refused one. A configuration "
        "(variant `no-checkpoint`): never pooled", "checkpoint", default=True)

    @property
    def latency(self) -> float | None:
        """The latency the timed process ran at: None when it connected directly (no relay)."""
        return self.latency_ms if self.via_relay else None

    def as_dict(self) -> dict:
        return asdict(self)

    def csv_values(self) -> list:
        """The row's cells in COLUMNS order (None as an empty cell)."""
        return ["" if value is None else value for value in self.as_dict().values()]


# A pass ran "under foreign load" when other processes took more than this share of one core over
# the timed process's wall time: on a 2-core machine whose client and server both run, 10% of a
# core taken from them moves a duration by about 5%, the default --target. The floor is five of
# the kernel's 10 ms ticks: /proc/stat and every process's times are counted in ticks, so less
# than that is rounding, whatever the share.
FOREIGN_LOAD_SHARE = 0.10
FOREIGN_LOAD_FLOOR_S = 0.05
FOREIGN_LOAD_RULE = (f"foreign_cpu_s > max({FOREIGN_LOAD_SHARE:g} x wall_s, {FOREIGN_LOAD_FLOOR_S:g} s): "
                     "other processes took more than 10% of one core while the timed process ran")


def under_foreign_load(foreign_cpu_s: float | None, wall_s: float | None) -> bool:
    """The pass's duration is suspect: other processes took more than FOREIGN_LOAD_SHARE of one
    core (and FOREIGN_LOAD_FLOOR_S) over its timed process's wall time. False when unknown."""
    if foreign_cpu_s is None or wall_s is None:
        return False
    return foreign_cpu_s > max(FOREIGN_LOAD_SHARE * wall_s, FOREIGN_LOAD_FLOOR_S)


def _base_type(annotation) -> type:
    """`float | None` -> float."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


COLUMNS = [f.name for f in fields(PassRow)]
REQUIRED = [f.name for f in fields(PassRow) if f.metadata["required"]]
BOOL_COLUMNS = [f.name for f in fields(PassRow) if _base_type(f.type) is bool]
NUMERIC_COLUMNS = [f.name for f in fields(PassRow) if _base_type(f.type) in (int, float)]
TEXT_COLUMNS = [f.name for f in fields(PassRow) if _base_type(f.type) is str]


def error_kind(error: str) -> str:
    """What kind of failure an `error` text describes (one of ERROR_KINDS; empty when none)."""
    text = error.lower()
    if not text:
        return ""
    if "uniqueviolation" in text or "duplicate key" in text:
        return "unique_violation"
    if "cardinalityviolation" in text or "a second time" in text:
        return "cardinality_violation"
    if "deadlock" in text:
        return "deadlock"
    if "could not serialize" in text or "serializationfailure" in text:
        return "serialization_failure"
    if text.startswith("timeout"):
        return "timeout"
    if text.startswith("server lost"):
        return "server_lost"
    if "too many clients" in text or "too many connections" in text:
        return "too_many_connections"
    if "differ" in text or "missing" in text or "neither writer" in text or "counts:" in text:
        return "wrong_values"
    return "other"


def markdown_table() -> str:
    """DESIGN.md's table of the row, one line per column, in order."""
    lines = ["| column | type | group | analysis needs it | what it holds |", "| --- | --- | --- | --- | --- |"]
    for f in fields(PassRow):
        kind = _base_type(f.type).__name__ + ("" if _base_type(f.type) is f.type else " or empty")
        required = "yes" if f.metadata["required"] else ""
        lines.append(f"| `{f.name}` | {kind} | {f.metadata['group']} | {required} | {f.metadata['doc']} |")
    return "\n".join(lines) + "\n"
