"""Settings: `.env_dist` < `.env` < environment variables < command-line flags.

Every setting has one name, its `.env` name (`TOTAL_ITEMS`, `TOTAL_THREADS` keep the original
project's names). In the environment it carries the prefix `UPSERT_BENCH_`
(`UPSERT_BENCH_SEED=7`): bare names such as `PG`, `SEED` or `DATABASE_URL` are too common for a
stale export in a shell to be allowed to change a run silently; they are ignored and named in a
one-line note instead (`Settings.ignored_environment`). `load_settings()` returns a frozen `Settings`; `CONFIG` is the
seed-compatible object a strategy written as `def main(total: int)` reads its DSN and thread
count from, as the original's strategies read `lib.config.CONFIG`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from contract import ENV_PREFIX, REPO_ROOT
from contract.envfile import env_line, in_repo, read_env_file
from contract.errors import UsageError
from experiments.urls import redact_dsn, sqlalchemy_url


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


def _seed(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"SEED must be a whole number or empty, got {text!r}") from None


def _pg(text: str) -> str:
    return text.strip()  # validated with PG_BIN by experiments.servers.parse_pg (Runner)


def _text(text: str) -> str:
    return text.strip()


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


# name -> (attribute, parser); the order is the order of config.env
PARSERS: dict[str, tuple[str, Callable[[str], object]]] = {
    "TOTAL_ITEMS": ("items", _positive_int("--items / TOTAL_ITEMS", 100_000_000)),
    "TOTAL_THREADS": ("threads", _positive_int("--threads / TOTAL_THREADS", 256)),
    "REPEAT": ("repeat", _repeat),
    "BUDGET": ("budget", _positive_int("--budget / BUDGET", 7 * 24 * 3600)),
    "TARGET": ("target", _percent("--target / TARGET")),
    "MAX_REPEAT": ("max_repeat", _positive_int("--max-repeat / MAX_REPEAT", 10_000)),
    "PG": ("pg", _pg),
    "PG_SETTINGS": ("pg_settings", _pg_settings),
    "PG_BIN": ("pg_bin", _text),
    "DATABASE_URL": ("database_url", _text),
    "SCHEMA": ("schema", _text),
    "KEEP_SCHEMA": ("keep_schema", _flag("KEEP_SCHEMA")),
    "TIMEOUT": ("timeout", _positive_int("--timeout / TIMEOUT", 7 * 24 * 3600)),
    "STRATEGIES": ("strategies", _text),
    "STRATEGIES_DIR": ("strategies_dir", _text),
    "RESULTS_DIR": ("results_dir", _text),
    "SEED": ("seed", _seed),
    "MEASURE_MEMORY": ("measure_memory", _flag("MEASURE_MEMORY")),
    "MEMORY_REPEATS": ("memory_repeats", _positive_int("--memory-repeats / MEMORY_REPEATS", 10_000)),
    "CONTENTION": ("contention", _flag("CONTENTION")),
    "KEEP_CAPTURES": ("keep_captures", _flag("KEEP_CAPTURES")),
}
SECRET_NAMES = {"DATABASE_URL"}


@dataclass(frozen=True)
class Settings:
    items: int
    threads: int
    repeat: int | None  # None: --repeat auto
    budget: int  # seconds the run may take (--repeat auto)
    target: float  # percent: the interval half-width a strategy must reach (--repeat auto)
    max_repeat: int  # repeats at most (--repeat auto)
    pg: str
    pg_settings: str
    pg_bin: str
    database_url: str
    schema: str
    keep_schema: bool
    timeout: int
    strategies: str
    strategies_dir: str
    results_dir: str
    seed: int | None
    measure_memory: bool
    memory_repeats: int
    contention: bool
    keep_captures: bool
    # where each value came from: "cli", "environment", ".env" or ".env_dist"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    raw: Mapping[str, str] = field(default_factory=dict, compare=False)
    # bare setting names found in the environment (PG=..., SEED=...), which do not count
    ignored_environment: tuple[str, ...] = field(default=(), compare=False)

    def path(self, value: str) -> Path:
        """A folder setting as an absolute path (relative ones are relative to the repository)."""
        return in_repo(value)

    def as_env(self, resolved: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """The effective settings, {NAME: (value, where it came from)}, secrets redacted.
        `resolved` gives the concrete value of settings the run decided (a generated SEED,
        the version `newest` meant), so the values reproduce the run when used as `.env`."""
        values = {}
        for name in PARSERS:
            value = self.raw.get(name, "")
            source = f"from {self.sources.get(name, '.env_dist')}"
            if resolved and name in resolved and resolved[name] != value:
                source += f" as {value!r}" if value else ", generated"
                value = resolved[name]
            values[name] = (redact_dsn(value) if name in SECRET_NAMES else value, source)
        return values

    def as_env_lines(self, resolved: Mapping[str, str] | None = None) -> list[str]:
        """`as_env` as `.env` lines (config.env), each with its source as a comment."""
        return [env_line(name, value, source) for name, (value, source) in self.as_env(resolved).items()]


def load_settings(
    cli: Mapping[str, object | None] | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path = REPO_ROOT,
    rerun: tuple[str, Mapping[str, str]] | None = None,
) -> Settings:
    """Merge the sources; `cli` maps setting names (TOTAL_ITEMS, ...) to flag values; `rerun`
    (`run --from`: its source label and the original run's settings) goes under the flags."""
    environ = os.environ if environ is None else environ
    layers = [
        (".env_dist", read_env_file(root / ".env_dist") if (root / ".env_dist").exists() else {}),
        (".env", read_env_file(root / ".env") if (root / ".env").exists() else {}),
        ("environment", environment_settings(environ)),
        *([rerun] if rerun else []),
        ("cli", {k: str(v) for k, v in (cli or {}).items() if v is not None}),
    ]
    raw: dict[str, str] = {}
    sources: dict[str, str] = {}
    for source, values in layers:
        for name, value in values.items():
            if name in PARSERS:
                raw[name] = value
                sources[name] = source
    parsed = {}
    for name, (attribute, parse) in PARSERS.items():
        if name not in raw:
            raise UsageError(f"setting {name} has no value: .env_dist is missing from {root}")
        try:
            parsed[attribute] = parse(raw[name])
        except UsageError as error:  # say where a value that is not a flag came from
            where = {"environment": f"environment variable {ENV_PREFIX}{name}", "cli": ""}.get(
                sources[name], str(root / sources[name]) if sources[name].startswith(".env") else sources[name])
            raise UsageError(f"{error} (set in {where})" if where else str(error)) from None
    ignored = tuple(sorted(name for name in PARSERS if name in environ))
    return Settings(**parsed, sources=sources, raw=raw, ignored_environment=ignored)


def environment_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the environment sets: `UPSERT_BENCH_<NAME>` only, as {NAME: value}."""
    return {name.removeprefix(ENV_PREFIX): value for name, value in environ.items()
            if name.startswith(ENV_PREFIX) and name.removeprefix(ENV_PREFIX) in PARSERS}


def ignored_environment_note(settings: Settings) -> str:
    """One line naming bare setting names in the environment, or "" when there are none."""
    if not settings.ignored_environment:
        return ""
    names = ", ".join(settings.ignored_environment)
    return (f"note: ignoring environment variable(s) {names}: the environment sets a setting as "
            f"{ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}{settings.ignored_environment[0]}), or use .env / a flag")


class _SeedConfig(Mapping[str, object]):
    """What a seed-style strategy (`def main(total: int)`) reads: `CONFIG.database_url`,
    `CONFIG.total_threads`, ... or by the setting's name, `CONFIG["DATABASE_URL"]`.
    Loaded on first use from the environment (the worker sets UPSERT_BENCH_DATABASE_URL,
    UPSERT_BENCH_TOTAL_ITEMS, UPSERT_BENCH_TOTAL_THREADS and UPSERT_BENCH_SCHEMA for the pass it
    runs) and the .env files."""

    def _settings(self) -> Settings:
        if "_cached" not in self.__dict__:
            self.__dict__["_cached"] = load_settings()
        return self.__dict__["_cached"]

    @property
    def database_url(self) -> str:
        return self._settings().database_url

    @property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url, "psycopg2")

    @property
    def phase(self) -> str:
        """The phase of the pass being run ("insert" or "update"), set by the worker."""
        return os.environ.get("BENCH_PHASE", "insert")

    @property
    def total_items(self) -> int:
        return self._settings().items

    @property
    def total_threads(self) -> int:
        return self._settings().threads

    @property
    def schema(self) -> str:
        """The run's schema, to qualify table names with (`public` on the servers the run starts)."""
        return self._settings().schema or "public"

    def __getitem__(self, name: str) -> object:
        settings = self._settings()
        if name not in PARSERS:
            raise KeyError(name)
        return getattr(settings, PARSERS[name][0])

    def __iter__(self):
        return iter(PARSERS)

    def __len__(self) -> int:
        return len(PARSERS)


CONFIG = _SeedConfig()

__all__ = ["CONFIG", "Settings", "load_settings", "parse_pg_settings"]
