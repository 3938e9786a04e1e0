"""Settings: `.env_dist` < `.env` < environment variables < command-line flags.

Every setting is declared once, in `experiments/settings_table.py` (its name, parser, default,
flag, help; `Settings` has one attribute per row). Its one name is its `.env` name
(`TOTAL_ITEMS`, `TOTAL_THREADS` keep the original project's names). In the environment it
carries the prefix `UPSERT_BENCH_` (`UPSERT_BENCH_SEED=7`): bare names such as `PG`, `SEED` or
`DATABASE_URL` are too common for a stale export in a shell to be allowed to change a run
silently; they are ignored and named in a one-line note instead (`Settings.ignored_environment`).
`load_settings()` returns a frozen `Settings`; `CONFIG` is the seed-compatible object a strategy
written as `def main(total: int)` reads its DSN and thread count from, as the original's
strategies read `lib.config.CONFIG`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import field, make_dataclass
from pathlib import Path

from contract import ENV_PREFIX, REPO_ROOT
from contract.envfile import env_line, in_repo, read_env_file
from contract.errors import UsageError
from experiments.settings_table import BY_NAME, SECRETS, SETTINGS, parse_pg_settings
from experiments.urls import redact_dsn, sqlalchemy_url


class _SettingsMethods:
    """What `Settings` does besides holding the values."""

    @property
    def threads(self) -> int:
        """The thread count of a run with one (TOTAL_THREADS); of one interleaving several, the
        smallest: the one its strategies that are not threaded run at."""
        return self.thread_counts[0]

    @property
    def interleaves_threads(self) -> bool:
        """Does the run interleave several thread counts (TOTAL_THREADS=1,2,4)?"""
        return len(self.thread_counts) > 1

    @property
    def interleaves_latencies(self) -> bool:
        """Does the run interleave several added latencies (LATENCY=direct,1,5)?"""
        return len(self.latencies) > 1

    @property
    def shape(self) -> dict:
        """What the rows around a pass look like, as `Keys` and `Workload` take it."""
        return {"table_rows": self.table_rows, "hit_ratio": self.hit_ratio, "duplicate_keys": self.duplicate_keys}

    def path(self, value: str) -> Path:
        """A folder setting as an absolute path (relative ones are relative to the repository)."""
        return in_repo(value)

    def as_env(self, resolved: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
        """The effective settings, {NAME: (value, where it came from)}, secrets redacted.
        `resolved` gives the concrete value of settings the run decided (a generated SEED,
        the version `newest` meant), so the values reproduce the run when used as `.env`."""
        values = {}
        for name in BY_NAME:
            value = self.raw.get(name, "")
            source = f"from {self.sources.get(name, '.env_dist')}"
            if resolved and name in resolved and resolved[name] != value:
                source += f" as {value!r}" if value else ", generated"
                value = resolved[name]
            values[name] = (redact_dsn(value) if name in SECRETS else value, source)
        return values

    def as_env_lines(self, resolved: Mapping[str, str] | None = None) -> list[str]:
        """`as_env` as `.env` lines (config.env), each with its source as a comment."""
        return [env_line(name, value, source) for name, (value, source) in self.as_env(resolved).items()]

    def override(self, source: str, values: Mapping[str, str]) -> Settings:
        """These settings with `values` ({NAME: text}) laid over them as one more layer named
        `source` (a sweep's grid point): parsed like any layer, so that the attributes, `raw`
        (what config.env and the manifest record) and `sources` agree."""
        return _parse({**self.raw, **values}, {**self.sources, **dict.fromkeys(values, source)},
                      REPO_ROOT, self.ignored_environment)


# one attribute per row of SETTINGS (experiments/settings_table.py), in its order, of its type
Settings = make_dataclass(
    "Settings",
    [(s.attribute, s.type) for s in SETTINGS] + [
        # where each value came from: "cli", "environment", ".env" or ".env_dist" (or a --from run)
        ("sources", Mapping[str, str], field(default_factory=dict, compare=False)),
        ("raw", Mapping[str, str], field(default_factory=dict, compare=False)),  # {NAME: text}
        # bare setting names found in the environment (PG=..., SEED=...), which do not count
        ("ignored_environment", tuple[str, ...], field(default=(), compare=False)),
    ],
    bases=(_SettingsMethods,), frozen=True,
    namespace={"__module__": __name__, "__doc__": "The effective settings: one attribute per setting "
               "(experiments/settings_table.py), frozen; `load_settings()` builds it."})


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
            if name in BY_NAME:
                raw[name] = value
                sources[name] = source
    return _parse(raw, sources, root, tuple(sorted(name for name in BY_NAME if name in environ)))


def _parse(raw: Mapping[str, str], sources: Mapping[str, str], root: Path,
           ignored: tuple[str, ...]) -> Settings:
    parsed = {}
    for setting in SETTINGS:
        name = setting.name
        if name not in raw:
            raise UsageError(f"setting {name} has no value: .env_dist is missing from {root}")
        try:
            parsed[setting.attribute] = setting.parse(raw[name])
        except UsageError as error:  # say where a value that is not a flag came from
            where = {"environment": f"environment variable {ENV_PREFIX}{name}", "cli": ""}.get(
                sources[name], str(root / sources[name]) if sources[name].startswith(".env") else sources[name])
            raise UsageError(f"{error} (set in {where})" if where else str(error)) from None
    return Settings(**parsed, sources=dict(sources), raw=dict(raw), ignored_environment=ignored)


def environment_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings the environment sets: `UPSERT_BENCH_<NAME>` only, as {NAME: value}."""
    return {name.removeprefix(ENV_PREFIX): value for name, value in environ.items()
            if name.startswith(ENV_PREFIX) and name.removeprefix(ENV_PREFIX) in BY_NAME}


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
    Loaded on first use from the environment and the .env files: in a pass, the harness gives
    the worker UPSERT_BENCH_DATABASE_URL, and the worker copies its `--items`, `--threads` and
    `--schema` to UPSERT_BENCH_TOTAL_ITEMS, UPSERT_BENCH_TOTAL_THREADS and UPSERT_BENCH_SCHEMA
    (and `--phase` to BENCH_PHASE) before it imports the strategy."""

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
        if name not in BY_NAME:
            raise KeyError(name)
        if name == "TOTAL_THREADS":  # the original's int: a pass's one thread count
            return settings.threads
        return getattr(settings, BY_NAME[name].attribute)

    def __iter__(self):
        return iter(BY_NAME)

    def __len__(self) -> int:
        return len(BY_NAME)


CONFIG = _SeedConfig()

__all__ = ["CONFIG", "Settings", "load_settings", "parse_pg_settings"]
