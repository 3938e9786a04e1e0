"""`Manifest`: the model of a run folder's `manifest.json`, the run's environment snapshot.

The single definition of the manifest (a **contract**, see DESIGN.md): the harness builds a
`Manifest` and writes `to_dict()` as JSON; the analysis, `publish`, the report and `--from` read
it back through `Manifest.load(folder)` and use attributes, never string keys. Every field says
what it holds (`doc` in its metadata, like `PassRow`'s columns).

Versions: `schema_version` is written into every new manifest (`SCHEMA_VERSION`); a manifest
without it is version 1, the format of every run folder written before this model (the
committed sets under figures/). Fields may be added (a reader gives an older run the field's
documented default), never renamed or removed without a new version. A manifest of a newer
version than this code knows is refused with one line (`UsageError`) naming the folder.

Lossless: keys a part does not name (a backend's own details such as `data_dir` or `image`, or
keys a newer writer added) are kept in that part's `extra` and written back as they were, so
dict -> model -> dict keeps every key and value of a manifest (plus `schema_version`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from contract.errors import UsageError
from contract.parts import Part, entry, extra_keys

SCHEMA_VERSION = 1  # the format written today; a manifest without the key is version 1
FILE = "manifest.json"


# -- the parts ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Git(Part):
    """The code that ran, read when the run started."""

    commit: str | None = entry("the commit checked out (full hash); None outside a git checkout")
    branch: str | None = entry("the branch (`HEAD` when detached); None outside a git checkout")
    dirty: bool | None = entry("the working tree had uncommitted changes (the run folder's git.diff "
                               "holds them); None when not recorded")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Machine(Part):
    """The computer and interpreter the harness ran on (None: not recorded)."""

    python: str | None = entry("Python version, e.g. `3.11.7`")
    python_implementation: str | None = entry("e.g. `CPython`")
    executable: str | None = entry("the harness's interpreter")
    os: str | None = entry("platform.platform()")
    kernel: str | None = entry("platform.release()")
    machine: str | None = entry("the architecture, e.g. `x86_64`")
    cpu_model: str | None = entry("the CPU's model name")
    cpu_count: int | None = entry("logical CPUs")
    cpu_count_physical: int | None = entry("physical cores")
    memory_gb: float | None = entry("total memory, GB (10^9 bytes)")
    load_average: tuple[float, ...] | None = entry("1, 5 and 15 minute load averages when the snapshot "
                                                   "was taken; None where the OS has none")
    user_is_root: bool | None = entry("the harness ran as root (servers then run as another user)")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Packages(Part):
    """The Python packages of the harness's environment."""

    lock_file: str | None = entry("the lock file, relative to the repository (locks/bench.txt)")
    lock_sha256: str | None = entry("its SHA-256: runs of different locks are not pooled")
    installed: dict[str, str] = entry("package (normalised name) -> installed version", factory=dict)
    differs_from_lock: dict[str, dict] = entry("package -> {installed, lock}: installed versions the lock "
                                               "does not pin", factory=dict)
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Comprehensibility(Part):
    """A strategy file's size and shape, measured when the run started."""

    loc: int | None = entry("lines of code (no blank lines, comments or docstrings)")
    complexity: int | None = entry("cyclomatic complexity (radon), summed")
    apis: int | None = entry("distinct library APIs called")
    raw_sql: bool | None = entry("the file holds SQL text")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class StrategyEntry(Part):
    """A strategy the run selected (the analysis reads its size here, never from the file,
    which may have changed since)."""

    name: str | None = entry("the strategy file's name, without .py")
    title: str | None = entry("the first line of its docstring")
    tags: dict = entry("its TAGS (library, api, technique, threaded, ...)", factory=dict)
    file: str | None = entry("its path, relative to the repository when inside it")
    sha256: str | None = entry("SHA-256 of the file that ran; None when unreadable")
    comprehensibility: Comprehensibility | None = entry("its size; None when it could not be measured")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class ServerSetting(Part):
    """One row of pg_settings."""

    setting: str | None = entry("the value, in the unit below, as text")
    unit: str | None = entry("its unit (`8kB`, `MB`, ...); None when unitless")
    source: str | None = entry("where it came from (`configuration file`, `command line`, ...)")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class RoundTripTime(Part):
    """The round-trip time of one path to a server at one moment: `queries` timed `SELECT 1` on a
    fresh connection (experiments/servers/wire.py)."""

    when: str | None = entry("`start` (before the first round) or `end` (after the last) of the server's work")
    path: str | None = entry("`direct` (the strategies' DSN) or `relay` (through the relay of a --latency value)")
    added_latency_ms: float | None = entry("the round-trip time the relay adds, ms; None for `direct`")
    queries: int | None = entry("how many `SELECT 1` were timed (after 10 untimed ones)")
    median_ms: float | None = entry("their median, ms")
    p95_ms: float | None = entry("their 95th percentile, ms")
    min_ms: float | None = entry("the fastest, ms")
    max_ms: float | None = entry("the slowest, ms")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Server(Part):
    """A server the run used. Keys of one backend only (data_dir, bin_dir, ran_from,
    authentication, data_dir_filesystem for a cluster; image, container, host_port for docker;
    kept_schema for --dsn) are in `extra`."""

    kind: str | None = entry("`embedded`, `local`, `docker` or `dsn`")
    label: str | None = entry("its label, e.g. `embedded:18` (the rows' `server`)")
    schema: str | None = entry("the schema the run worked in")
    dsn: str | None = entry("its connection string, password redacted")
    server_version: str | None = entry("SHOW server_version's number, e.g. `18.4`")
    server_version_string: str | None = entry("SHOW server_version as reported (a packager's suffix kept)")
    version: str | None = entry("SELECT version()")
    non_default_settings: dict[str, ServerSetting] = entry(
        "settings not at PostgreSQL's defaults, by name", factory=dict)
    requested_settings: dict[str, str] | None = entry(
        "--pg-setting values the run asked for; absent for a --dsn server", omitted_when_none=True)
    server_cpu: str | None = entry("how server_cpu_s is measured (or why not)", omitted_when_none=True)
    statement_counting: str | None = entry("whether `statements` is counted (pg_stat_statements), and how; "
                                           "absent until the first pass is prepared", omitted_when_none=True)
    transport: str | None = entry("how the strategies reached the server: `unix socket`, `tcp` or `tls (<version>)` "
                                  "(read from the harness's connection with their DSN); absent in older runs",
                                  omitted_when_none=True)
    wire_counts: str | None = entry("how the rows' wire columns (round_trips, bytes_...) were counted, or why "
                                    "not; absent in older runs", omitted_when_none=True)
    round_trip_times: tuple[RoundTripTime, ...] | None = entry(
        "the round-trip time at the start and the end of the server's work, directly and through each "
        "--latency relay; absent in older runs", omitted_when_none=True)
    wal_fpi_bytes: str | None = entry("how the rows' wal_fpi_bytes were read (pg_waldump, pg_walinspect), or why "
                                      "they are empty; absent in older runs", omitted_when_none=True)
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class RepeatReport(Part):
    """Repeats one strategy got on one server, and why it stopped."""

    repeats: int = entry("repeats run (rounds with both phases)", 0)
    stopped: str = entry("why it stopped (`settled`, `budget`, `max_repeat`, ...; empty while running)", "")
    half_width_pct: dict[str, float | None] = entry("per phase: half-width of the duration's 95% interval, "
                                                    "% (None: too few repeats)", factory=dict)
    cv_pct: dict[str, float | None] = entry("per phase: coefficient of variation of the duration, %",
                                            factory=dict)
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class AutoRepeat(Part):
    """`--repeat auto`'s limits."""

    budget_s: float | None = entry("seconds the run may take")
    target_pct: float | None = entry("stop a strategy once its 95% interval is within +- this percent")
    min_repeat: int | None = entry("repeats at least")
    min_repeat_cheap: int | None = entry("repeats at least for a strategy whose passes take under a second "
                                         "(absent before this was recorded)", omitted_when_none=True)
    max_repeat: int | None = entry("repeats at most")
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Sweep(Part):
    """The sweep a run is one grid point of."""

    id: str | None = entry("the sweep's id (`sweep-<start>`), shared by its runs")
    items: tuple[int, ...] = entry("the grid's item counts", factory=tuple)
    threads: tuple[int, ...] = entry("the grid's thread counts", factory=tuple)
    point: tuple[int, ...] = entry("this run's (items, thread count...): since thread counts are interleaved "
                                   "within a run, its items and every thread count it ran", factory=tuple)
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class RerunOf(Part):
    """`--from`: the run this one repeats."""

    run_id: str | None = entry("the original run's id")
    differences: tuple[str, ...] = entry("the lines printed before the run: what differs from the original",
                                         factory=tuple)
    extra: dict = extra_keys()


@dataclass(frozen=True, kw_only=True)
class Concurrency(Part):
    """One benchmark at a time (experiments/run/lock.py): the machine-wide lock, and how many
    passes other processes' CPU made suspect (the rows' `foreign_cpu_s`)."""

    lock_file: str | None = entry("the lock file the run held or looked at (/tmp/upsert-bench.lock unless "
                                  "UPSERT_BENCH_LOCK_FILE named another)")
    allowed: bool | None = entry("started with --allow-concurrent (ALLOW_CONCURRENT=1): ran without the "
                                 "lock, beside whatever else ran")
    held: bool | None = entry("the run held the lock from before its first server started to its end, so "
                              "no other run that honours it ran meanwhile")
    other_run: dict | None = entry("with --allow-concurrent: what the run holding the lock when this one "
                                   "started recorded of itself (run_id, pid, user, started_at, command); "
                                   "None when no run held it")
    foreign_load_rule: str | None = entry("when a pass counts as under foreign load (contract.row."
                                          "under_foreign_load)")
    passes_under_foreign_load: int | None = entry("passes that ran under foreign load (their durations "
                                                  "are suspect); None while running")
    extra: dict = extra_keys()


# -- the manifest ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Manifest(Part):
    """manifest.json. A section missing from an older run reads as the default given here."""

    schema_version: int = entry("the format's version (absent: 1, the format before this model)",
                                SCHEMA_VERSION)
    run_id: str = entry("the run (its folder's name); empty when not recorded", "")
    started_at: str | None = entry("when the run started (UTC, ISO 8601)")
    finished_at: str | None = entry("when it ended (UTC, ISO 8601); None while running or if it died")
    seed: int | None = entry("seed of the strategy order shuffle")
    config: dict[str, str] = entry("every setting as the run resolved it (the seed it drew, the versions "
                                   "`newest` meant): setting name -> value, as in config.env", factory=dict)
    config_sources: dict[str, str] = entry("setting name -> where its value came from (`.env_dist`, `.env`, "
                                           "environment, `cli`, `--from <run>`)", factory=dict)
    items: int | None = entry("rows per table")
    threads: int | None = entry("threads a threaded strategy uses (of several interleaved: the smallest, "
                                "which the strategies that are not threaded ran at)")
    thread_counts: tuple[int, ...] | None = entry(
        "the thread counts interleaved in every round (`--threads 1,2,4`): threaded strategies and the floor "
        "ran at each, as `name@threads` in `repeats`; absent for a run of one", omitted_when_none=True)
    latencies: tuple[float | None, ...] | None = entry(
        "the `--latency` values of the run, ms (None: `direct`, no relay); several interleave in every round, "
        "every strategy at each, as `name+<latency>` in `repeats`; absent for a run without --latency",
        omitted_when_none=True)
    repeat: int | str | None = entry("repeats asked for, or `auto`")
    timeout_s: float | None = entry("seconds one pass may take before it is killed")
    auto_repeat: AutoRepeat | None = entry("with `--repeat auto`, its limits; None for a fixed count")
    repeats: dict[str, dict[str, RepeatReport]] = entry("server label -> strategy (or strategy@threads, "
                                                        "strategy+latency) -> the repeats it got and "
                                                        "why it stopped", factory=dict)
    slow_rounds: dict[str, dict[str, tuple[int, ...]]] | None = entry(
        "server label -> phase -> rounds whose effect in the blocked model lies beyond 3.5 median "
        "absolute deviations of the others' (a slow or fast round: the model charges it to the round, "
        "not to the strategies in it); absent before this was recorded", omitted_when_none=True)
    measure_memory: bool | None = entry("memory was measured (a memray-tracked process per pass)")
    memory_repeats: int | None = entry("in how many first repeats memory was measured (0: never)")
    timing: str | None = entry("how duration and memory were measured, in words")
    strategies: tuple[StrategyEntry, ...] = entry("the strategies the run selected", factory=tuple)
    servers: tuple[Server, ...] = entry("the servers it used, in order", factory=tuple)
    checkpoint_before_pass: bool | None = entry("every pass started after a CHECKPOINT (False with "
                                                "--no-checkpoint, or once a server refused one)")
    git: Git = entry("the code that ran", factory=Git)
    machine: Machine = entry("the computer and interpreter", factory=Machine)
    packages: Packages = entry("the Python packages", factory=Packages)
    rows: int | None = entry("rows results.csv held when the manifest was written")
    sweep: Sweep | None = entry("the sweep this run is a grid point of; None outside a sweep")
    rerun_of: RerunOf | None = entry("the run this one re-runs (`--from`); None otherwise")
    contention: bool | None = entry("update passes raced a second writer (`--contention`)")
    cpu_split: str | None = entry(
        "what the rows' server CPU covers: `main-only` (server_cpu_s is the backends' CPU over main() "
        "alone, read when the worker marks its start and end; background_cpu_s the background "
        "processes'); absent in older runs, whose server_cpu_s is every server process from the timed "
        "process's start to after the settle wait (start-up, imports, connecting and settling included)",
        omitted_when_none=True)
    concurrency: Concurrency | None = entry("the one-run-at-a-time lock and foreign load; absent in runs "
                                            "made before it", omitted_when_none=True)
    extra: dict = extra_keys()

    @classmethod
    def from_dict(cls, data: dict | None, where: str = "manifest.json") -> Manifest:
        """The manifest from its JSON object; `where` names it in the one-line error for a newer
        schema_version or a malformed section."""
        version = (data or {}).get("schema_version", 1) if isinstance(data, dict) else 1
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UsageError(f"{where}: schema_version {version!r} is not a version number")
        if version > SCHEMA_VERSION:
            raise UsageError(f"{where}: schema_version {version} is newer than this code reads "
                             f"({SCHEMA_VERSION}); update the code to read this run")
        try:
            return super().from_dict(data)
        except (TypeError, ValueError) as error:
            raise UsageError(f"{where}: not a manifest this code reads ({error})") from None

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """A run folder's manifest (`path` is the folder or its manifest.json). A folder without
        a readable one reads as `Manifest()`, every section at its default, as runs that
        predate manifests do."""
        path = Path(path)
        if path.name != FILE:
            path = path / FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(data, where=str(path))

    def strategy(self, name: str) -> StrategyEntry | None:
        """The entry of the strategy `name`, or None when the run did not select it."""
        return next((s for s in self.strategies if s.name == name), None)


PARTS = (Manifest, Git, Machine, Packages, StrategyEntry, Comprehensibility, Server, ServerSetting,
         RoundTripTime, RepeatReport, AutoRepeat, Sweep, RerunOf, Concurrency)

