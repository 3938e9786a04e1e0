"""The settings, declared once: `SETTINGS`, one `Setting` per row, in `.env_dist`'s order.

Everything else follows from this table: `experiments.config.Settings` (one attribute each,
its type and parser), the `run` / `sweep` flags (`add_run_flags`, `run_flag_values`),
`.env_dist` (`env_dist_text`), `run --from`'s `NOT_REPEATED`, which values are redacted
(`SECRETS`), and docs/usage.md's options table (`options_table`). tests/test_config.py fails
when `.env_dist` or that table differ from what this module renders (`UPDATE_DOCS=1` rewrites
both). The parsers' messages are the one-line errors docs/bad-input.md shows: keep them.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contract.envfile import env_line
from contract.errors import UsageError


def _positive_int(name: str, upper: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise UsageError(f"{name} must be a whole number, got {text!r}") from None
        if not 1 <= value <= upper:
            raise UsageError(f"{name} must be between 1 and {upper:,}, got {value}")
        return value

    return parse


def _flag(name: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise UsageError(f"{name} must be 1 or 0, got {text!r}")

    return parse


def _thread_counts(text: str) -> tuple[int, ...]:
    """One thread count, or several separated by commas (sorted, each once): a run interleaves them."""
    parse = _positive_int("--threads / TOTAL_THREADS", 256)
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise UsageError(f"--threads / TOTAL_THREADS must be a whole number or a comma-separated list, got {text!r}")
    return tuple(sorted({parse(part) for part in parts}))


def _repeat(text: str) -> int | None:
    """`auto` (None: rounds until each strategy's interval is narrow enough, within the budget)
    or a fixed count."""
    if text.strip().lower() == "auto":
        return None
    try:
        return _positive_int("--repeat / REPEAT", 10_000)(text)
    except UsageError:
        raise UsageError(f"--repeat / REPEAT must be 'auto' or a whole number from 1 to 10,000, got {text!r}") from None


def _percent(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip().rstrip("%"))
        except ValueError:
            raise UsageError(f"{name} must be a percentage, got {text!r}") from None
        if not 0 < value < 100:
            raise UsageError(f"{name} must be between 0 and 100 (percent), got {text!r}")
        return value

    return parse


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise UsageError(f"{name} must be {' or '.join(choices)}, got {text!r}")
        return value

    return parse


def _latencies(text: str) -> tuple[float | None, ...]:
    """Round-trip times to add, in milliseconds (a number >= 0: through the relay) or `direct`
    (no relay, the default): each once, direct first, then ascending."""
    name = "--latency / LATENCY"
    values: set[float | None] = set()
    for part in [p.strip().lower() for p in text.split(",") if p.strip()] or ["direct"]:
        if part == "direct":
            values.add(None)
            continue
        try:
            value = float(part.removesuffix("ms"))
        except ValueError:
            raise UsageError(f"{name} must be round-trip times in milliseconds (e.g. 0.2,1,5) or 'direct', "
                             f"got {text!r}") from None
        if not 0 <= value <= MAX_LATENCY_MS:
            raise UsageError(f"{name} must be between 0 and {MAX_LATENCY_MS:,} ms, got {part}")
        values.add(value)
    return tuple(sorted(values, key=lambda v: -1.0 if v is None else v))


MAX_LATENCY_MS = 10_000


def _phases(text: str) -> tuple[str, ...]:
    """Phases to run, comma-separated, each once, in `PHASES`' order (insert, update, mixed, unchanged)."""
    from contract.workload import PHASES
    parts = {p.strip().lower() for p in text.split(",") if p.strip()}
    unknown = sorted(parts - set(PHASES))
    if not parts or unknown:
        raise UsageError(f"--phases / PHASES must be a comma-separated list of {', '.join(PHASES)}, got {text!r}")
    return tuple(p for p in PHASES if p in parts)


def _share(name: str, upper: float, unit: str = "") -> Callable[[str], float]:
    """A number from 0 to `upper` (a ratio, or percent with `unit` "%")."""
    def parse(text: str) -> float:
        try:
            value = float(text.strip().rstrip("%") if unit else text.strip())
        except ValueError:
            raise UsageError(f"{name} must be a number from 0 to {upper:g}{unit}, got {text!r}") from None
        if not 0 <= value <= upper:
            raise UsageError(f"{name} must be a number from 0 to {upper:g}{unit}, got {text!r}")
        return value

    return parse


def _table_rows(text: str) -> int:
    try:
        value = int(text.strip().replace("_", "")) if text.strip() else 0
    except ValueError:
        raise UsageError(f"--table-rows / TABLE_ROWS must be a whole number, got {text!r}") from None
    if not 0 <= value <= 100_000_000:
        raise UsageError(f"--table-rows / TABLE_ROWS must be between 0 and 100,000,000, got {value}")
    return value


def _seed(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"SEED must be a whole number or empty, got {text!r}") from None


def _text(text: str) -> str:
    return text.strip()  # PG is validated with PG_BIN by experiments.servers.parse_pg (Runner)


def _pg_settings(text: str) -> str:
    parse_pg_settings(text)
    return text.strip()


def parse_pg_settings(text: str) -> dict[str, str]:
    """`name=value;name=value` (PG_SETTINGS) into a dict; names as PostgreSQL spells them."""
    settings = {}
    for item in [t.strip() for t in text.split(";") if t.strip()]:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_.]*", name.strip()) or not value.strip():
            raise UsageError(f"--pg-setting {item!r}: expected name=value, e.g. shared_buffers=256MB")
        settings[name.strip()] = value.strip()
    return settings


@dataclass(frozen=True)
class Setting:
    """One setting. Its flag's `--help` is `help` plus `(NAME; default D)`, or `(NAME=V)` for a
    switch; docs/usage.md shows `docs` (Markdown; `help` when empty) and `docs_default` (when
    empty: the default, as code unless a number; "off" for a switch; "(empty)")."""

    name: str  # the .env name; UPSERT_BENCH_<name> in the environment
    attribute: str  # Settings.<attribute>
    type: object  # the attribute's type: what `parse` returns
    parse: Callable[[str], object]  # text -> value; a bad value raises UsageError (one line)
    default: str  # the value in .env_dist
    comment: str  # .env_dist's comment above it, "\n" between lines
    help: str  # what the flag does, one phrase (the name and default are added)
    flag: str = ""  # the run and sweep flag ("" for none)
    metavar: str = ""  # what the flag takes, in --help and the docs ("" for a switch)
    switch: str | None = None  # a flag without a value: the value it sets (--no-memory: "0")
    repeatable: bool = False  # the flag may be given again; the values join with ";"
    docs: str = ""  # docs/usage.md's "meaning", when it says more than `help`
    docs_default: str = ""  # docs/usage.md's "default", when the value alone would not say it
    repeated: bool = True  # part of a run's configuration: `run --from` takes it from the original
    secret: bool = False  # its value is redacted wherever the run writes it (config.env, manifest)

    def flag_help(self) -> str:
        """The flag's `--help` text (argparse's `%` escaped)."""
        where = (f"{self.name}={self.switch}" if self.switch is not None
                 else f"{self.name}; default {self.default}" if self.default else self.name)
        return f"{self.help} ({where})".replace("%", "%%")

    def docs_row(self) -> str:
        flag = f"`{self.flag} {self.metavar}`" if self.metavar else f"`{self.flag}`"
        setting = f"`{self.name}={self.switch}`" if self.switch is not None else f"`{self.name}`"
        default = self.docs_default or ("off" if self.switch is not None
                                        else "(empty)" if not self.default
                                        else self.default if self.default.isdigit() else f"`{self.default}`")
        return f"| {flag} | {setting} | {default} | {self.docs or self.help} |"


SETTINGS: tuple[Setting, ...] = (
    Setting("TOTAL_ITEMS", "items", int, _positive_int("--items / TOTAL_ITEMS", 100_000_000), "10000",
            "rows per table (users and addresses each get TOTAL_ITEMS rows); the original's name",
            "rows per table", flag="--items", metavar="N"),
    Setting("TOTAL_THREADS", "thread_counts", tuple[int, ...], _thread_counts, "4",
            "worker threads / connections for threaded and concurrent strategies; the original's name.\n"
            "Several (1,2,4) run interleaved in one run: every round runs the threaded strategies and the\n"
            "floor at each count, the others at the first (the smallest), for a speed-up measured in one run",
            "threads/connections of threaded strategies; several (1,2,4) interleave in one run",
            flag="--threads", metavar="N[,N...]",
            docs="threads/connections of threaded strategies. Several (`1,2,4`) are interleaved in one "
                 "run: each round runs the threaded strategies and the floor at every count and the "
                 "others at the smallest, so a speed-up is measured within rounds (`speedup.csv`)"),
    Setting("REPEAT", "repeat", int | None, _repeat, "auto",  # None: auto
            "how many times every strategy runs both passes: a number, or auto = rounds over the strategies\n"
            "whose 95% interval is still wider than TARGET percent, at least 3 and at most MAX_REPEAT, until\n"
            "the run has taken BUDGET seconds (every strategy runs at least once whatever the budget)",
            "times every strategy runs both passes, or 'auto'", flag="--repeat", metavar="N",
            docs="times every strategy runs both passes, or `auto`: rounds over the strategies not yet "
                 "settled (their `x floor` interval wider than `--target`), at least 3 and at most "
                 "`--max-repeat`, until `--budget` seconds have passed. Every strategy runs at least once. "
                 "Each strategy's repeat count, why it stopped and its interval widths go into the manifest "
                 "(`repeats`). A strategy whose durations vary by more than 10% (coefficient of variation, "
                 "pyperf's threshold) is reported *unstable*"),
    Setting("BUDGET", "budget", int, _positive_int("--budget / BUDGET", 7 * 24 * 3600), "600",
            "with REPEAT=auto: seconds the run may take",
            "with --repeat auto: seconds the run may take", flag="--budget", metavar="S",
            docs="with `auto`: seconds the run may take. The clock starts with the first round, which "
                 "always runs whole, memory included"),
    Setting("TARGET", "target", float, _percent("--target / TARGET"), "5",
            "with REPEAT=auto: a strategy is settled once its 95% interval is within +-TARGET percent",
            "with --repeat auto: stop a strategy once its 95% interval is within +-TARGET percent",
            flag="--target", metavar="P",
            docs="with `auto`: a strategy is settled when its interval is within ±P percent"),
    Setting("MAX_REPEAT", "max_repeat", int, _positive_int("--max-repeat / MAX_REPEAT", 10_000), "15",
            "with REPEAT=auto: repeats at most", "with --repeat auto: repeats at most",
            flag="--max-repeat", metavar="N", docs="with `auto`: repeats at most"),
    Setting("PG", "pg", str, _text, "newest",
            "which PostgreSQL: embedded major versions shipped on PyPI (16, 18, newest), local binaries\n"
            "(local, local:15), pinned Docker images (docker:15 .. docker:18), or a list: 16,18,docker:17",
            "which PostgreSQL: 16, 18, local, docker:17, or a list such as 16,18", flag="--pg", metavar="V",
            docs="which PostgreSQL ([next section](#which-postgresql-four-backends)): `16`, `18`, `local`, "
                 "`local:15`, `docker:17`, or a list such as `16,18` (one run folder, `pg_version` per row)"),
    Setting("PG_SETTINGS", "pg_settings", str, _pg_settings, "",
            "server settings for every server the run starts (embedded, local, docker), `;`-separated:\n"
            "shared_buffers=256MB;synchronous_commit=off   (empty = the server's defaults)",
            "server setting for every server the run starts, repeatable", flag="--pg-setting",
            metavar="NAME=VALUE", repeatable=True, docs_default="(none)",
            docs="server setting for every server the run starts, repeatable (`PG_SETTINGS=a=1;b=2`)"),
    Setting("PG_BIN", "pg_bin", str, _text, "",
            "a folder holding initdb and postgres (same as PG=local, with those binaries)",
            "folder with initdb and postgres to use, as --pg local does with those", flag="--pg-bin", metavar="DIR",
            docs="a folder with `initdb` and `postgres` (same as `--pg local` with those binaries)"),
    Setting("TRANSPORT", "transport", str, _choice("--transport / TRANSPORT", ("socket", "tcp")), "socket",
            "how strategies reach the servers the run starts (embedded, local): socket = its Unix socket,\n"
            "tcp = loopback TCP (127.0.0.1, a free port; the same password). Docker is always TCP; a --dsn\n"
            "server is reached as its URI says. The default is socket: measured faster on this machine",
            "how strategies reach the servers the run starts: socket (Unix socket) or tcp (loopback)",
            flag="--transport", metavar="socket|tcp",
            docs="how strategies reach the servers the run starts (embedded, local): `socket`, their Unix "
                 "socket, or `tcp`, loopback TCP on a free port with the same password "
                 "([the wire](#the-wire-round-trips-bytes-and-latency)). Docker is always TCP; `--dsn` "
                 "as its URI says"),
    Setting("LATENCY", "latencies", tuple[float | None, ...], _latencies, "",
            "round-trip times to add, in ms, to the timed passes of servers the run starts: each value runs\n"
            "them through a relay that holds each direction's data for half of it (0 = the relay alone);\n"
            "direct = no relay. Several (direct,1,5) interleave in one run. Empty = direct",
            "round-trip times to add (ms) through a relay, or 'direct'; several (direct,1,5) interleave",
            flag="--latency", metavar="MS[,MS...]", docs_default="`direct`",
            docs="round-trip time to add to the timed passes, in ms: they go through a relay that holds each "
                 "direction's data for half of it (`0`: the relay alone; `direct`: no relay). Several "
                 "(`direct,1,5`) interleave in one run, every strategy at each; `latency_ms` is a "
                 "configuration, never pooled ([the wire](#the-wire-round-trips-bytes-and-latency))"),
    Setting("DATABASE_URL", "database_url", str, _text, "",
            "an existing server instead of the embedded one (libpq URI); empty = embedded",
            "run against this existing server instead; prefer the environment variable "
            "UPSERT_BENCH_DATABASE_URL, argv is visible to `ps`", flag="--dsn", metavar="URI",
            docs="run against an existing server instead ([next section](#which-postgresql-four-backends); "
                 "in the environment `UPSERT_BENCH_DATABASE_URL`)",
            repeated=False, secret=True),
    Setting("SCHEMA", "schema", str, _text, "",
            "with DATABASE_URL: the private schema the run creates (empty = upsert_bench_<run id>)",
            "with --dsn: the private schema the run creates, upsert_bench_<run id> when empty",
            flag="--schema", metavar="S", docs_default="`upsert_bench_<run_id>`",
            docs="with `--dsn`: the private schema the run creates", repeated=False),
    Setting("KEEP_SCHEMA", "keep_schema", bool, _flag("KEEP_SCHEMA"), "0",
            "with DATABASE_URL: keep that schema and its tables after the run (1) or drop it (0)",
            "with --dsn: keep the schema and its tables after the run", flag="--keep-schema", switch="1",
            docs="with `--dsn`: keep that schema and its tables", repeated=False),
    Setting("TIMEOUT", "timeout", int, _positive_int("--timeout / TIMEOUT", 7 * 24 * 3600), "600",
            "seconds one pass may take before it is killed and recorded as a failure",
            "seconds a pass may take before it is killed", flag="--timeout", metavar="S"),
    Setting("STRATEGIES", "strategies", str, _text, "*", "comma-separated strategy names or globs",
            "comma-separated names or globs, e.g. 'psycopg*'", flag="--strategies", metavar="LIST",
            docs="comma-separated names or globs: `'psycopg*,sqlalchemy_orm_merge'`"),
    Setting("STRATEGIES_DIR", "strategies_dir", str, _text, "strategies", "folder holding the strategy files",
            "where strategy files are", flag="--strategies-dir", metavar="D"),
    Setting("RESULTS_DIR", "results_dir", str, _text, "results", "where run folders are written",
            "where run folders go", flag="--results-dir", metavar="D", repeated=False),
    Setting("SEED", "seed", int | None, _seed, "",  # None: a fresh seed, drawn by the run
            "seed of the strategy order shuffle; empty = a fresh seed, recorded in the run folder",
            "seed of the strategy-order shuffle, recorded in the run folder; a fresh one when empty",
            flag="--seed", metavar="N", docs_default="fresh",
            docs="seed of the strategy-order shuffle (recorded in the run folder)"),
    Setting("MEASURE_MEMORY", "measure_memory", bool, _flag("MEASURE_MEMORY"), "1",
            "measure memory in a second, memray-tracked process (1) or skip it (0)",
            "skip the memray-tracked process of every pass", flag="--no-memory", switch="0",
            docs_default="memory on", docs="skip the memray process"),
    Setting("MEMORY_REPEATS", "memory_repeats", int,
            _positive_int("--memory-repeats / MEMORY_REPEATS", 10_000), "1",
            "in how many repeats of each strategy and phase (the first ones) memory is measured; peak memory\n"
            "varies by a few percent between repeats, so once is the default",
            "measure memory in the first N repeats of each strategy and phase", flag="--memory-repeats",
            metavar="N",
            docs="measure memory in the first N repeats of each strategy and phase. Once is enough. In a "
                 "check on this project's 2-core machine, 124 strategy x phase groups were measured twice "
                 "(at 1,000 and 3,000 items). 97.6% had the same peak within 1% (median difference 0.0%), "
                 "and the largest difference was 0.98 MB (`psycopg2_execute_batch` insert, 3.3 vs 4.3 MB)"),
    Setting("CONTENTION", "contention", bool, _flag("CONTENTION"), "0",
            "contention mode: the update pass races a second writer on half of the keys (1) or not (0)",
            "race every update pass against a second writer on the same keys", flag="--contention",
            switch="1", docs="race every update pass against a second writer on the same keys "
                             "([analysis.md](analysis.md#contention-mode))"),
    Setting("PHASES", "phases", tuple[str, ...], _phases, "insert,update",
            "the passes each strategy runs, in this order: insert (new keys), update (every key exists,\n"
            "every value changes), mixed (HIT_RATIO of the keys exist and change, the others are new),\n"
            "unchanged (every key exists with exactly its values: a no-op upsert)",
            "passes each strategy runs: insert, update, mixed, unchanged", flag="--phases",
            metavar="P[,P...]", docs="passes each strategy runs: `insert` (new keys), `update` (every key "
            "exists, every value changes), `mixed` (`--hit-ratio` of the keys exist and change, the others "
            "are new), `unchanged` (a no-op upsert) ([below](#phases-other-rows-and-duplicate-keys))"),
    Setting("HIT_RATIO", "hit_ratio", float, _share("--hit-ratio / HIT_RATIO", 1.0), "0.5",
            "the share of the keys (0 to 1, spread evenly) that exist before a mixed pass",
            "share of keys that exist before a mixed pass (0-1)", flag="--hit-ratio", metavar="R"),
    Setting("DUPLICATE_KEYS", "duplicate_keys", float, _share("--duplicate-keys / DUPLICATE_KEYS", 100.0, "%"), "0",
            "percent of the keys given twice in every pass's input: first with stale values, immediately\n"
            "followed by the row that must end up in the table (the later one wins)",
            "percent of keys given twice in the input, the later row must win", flag="--duplicate-keys",
            metavar="PCT"),
    Setting("TABLE_ROWS", "table_rows", int, _table_rows, "0",
            "other rows in each table before every pass: other users and their addresses, their keys\n"
            "interleaved with the pass's, untouched by it and verified untouched",
            "other rows in each table, interleaved with the pass's keys, untouched", flag="--table-rows",
            metavar="N"),
    Setting("CHECKPOINT", "checkpoint", bool, _flag("CHECKPOINT"), "1",
            "CHECKPOINT before every pass (1): each starts with no dirty buffers and writes a full-page image\n"
            "of every page it changes first; 0 = steady state, as an application's upserts meet the server",
            "start every pass without the forced CHECKPOINT (steady state, as an application's upserts)",
            flag="--no-checkpoint", switch="0", docs_default="checkpoint on",
            docs="start every pass without the CHECKPOINT the harness otherwise forces before it: the "
                 "steady state an application's upserts meet, without the full-page images a fresh "
                 "checkpoint costs ([a fresh checkpoint's cost](#a-fresh-checkpoints-cost)). The rows' "
                 "`checkpoint` column says which; the two are never pooled (variant `no-checkpoint`)"),
    Setting("KEEP_CAPTURES", "keep_captures", bool, _flag("KEEP_CAPTURES"), "0",
            "keep memray capture files in the run folder (1) or delete them once read (0)",
            "keep the memray capture files in the run folder", flag="--keep-captures", switch="1",
            repeated=False),
    Setting("ALLOW_CONCURRENT", "allow_concurrent", bool, _flag("ALLOW_CONCURRENT"), "0",
            "run even while another benchmark run holds the machine-wide lock (1; recorded in the manifest,\n"
            "both runs' numbers suffer) or stop at once, naming it (0)",
            "run even while another benchmark run holds the machine-wide lock", flag="--allow-concurrent",
            switch="1", repeated=False,
            docs="run even while another run holds the machine-wide lock ([one run at a time](#one-run-at-a-time)); "
                 "the manifest records it"),
)
BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}
NOT_REPEATED = frozenset(s.name for s in SETTINGS if not s.repeated)  # `run --from` leaves these
SECRETS = frozenset(s.name for s in SETTINGS if s.secret)

ENV_DIST_HEADER = """\
# Defaults for every setting. Copy to .env to change them locally; environment variables
# override .env, and command-line flags override both (CLI > environment > .env > .env_dist).
# In the environment a setting carries the prefix UPSERT_BENCH_ (UPSERT_BENCH_TOTAL_ITEMS=1000):
# bare names there (PG, SEED, DATABASE_URL, ...) are ignored, with a note.
# Generated from experiments/settings_table.py (UPDATE_DOCS=1 with tests/test_config.py).
"""
# the options table's rows for run flags that are no setting
OTHER_RUN_FLAGS = ("| `--from RUN` | (none) | (none) | re-run the experiment of a run folder "
                   "([below](#re-running-a-run-folder)) |",)


def env_dist_text() -> str:
    """`.env_dist`: the header, then each setting's comment and default."""
    lines = [ENV_DIST_HEADER]
    for setting in SETTINGS:
        lines += [f"# {line}" for line in setting.comment.splitlines()]
        lines.append(env_line(setting.name, setting.default))
    return "\n".join(lines) + "\n"


def options_table() -> str:
    """docs/usage.md's options table (Markdown)."""
    rows = ["| flag | setting | default | meaning |", "| --- | --- | --- | --- |"]
    return "\n".join(rows + [s.docs_row() for s in SETTINGS if s.flag] + list(OTHER_RUN_FLAGS))


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `run` and `sweep`: one per setting that has one, its value kept under the
    setting's name (`args.TOTAL_ITEMS`)."""
    for s in SETTINGS:
        if not s.flag:
            continue
        if s.switch is not None:
            parser.add_argument(s.flag, action="store_const", const=s.switch, dest=s.name, help=s.flag_help())
        else:
            parser.add_argument(s.flag, action="append" if s.repeatable else "store", dest=s.name,
                                metavar=s.metavar, help=s.flag_help())


def run_flag_values(args: argparse.Namespace) -> dict[str, str | None]:
    """{setting name: the flag's value, None when not given}: `load_settings`'s `cli` layer."""
    values = {s.name: getattr(args, s.name) for s in SETTINGS if s.flag}
    return {name: ";".join(v) if isinstance(v, list) else v for name, v in values.items()}
