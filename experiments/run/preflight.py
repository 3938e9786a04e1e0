"""What a run will do, checked before the harness is loaded: the strategies it selects, the
servers `--pg` names (or the `--dsn` URI and schema), their settings and the results folder. A bad value is one line within a
fraction of a second (the runner imports the drivers, rich and psutil: about a second)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.catalog import Strategy, discover, select
from experiments.config import Settings, parse_pg_settings
from experiments.run.folder import check_results_dir
from contract.errors import UsageError
from experiments.servers import MIN_MAJOR, ServerOptions, ServerSpec, Target, check_dsn_options, parse_pg


@dataclass(frozen=True)
class Plan:
    strategies: list[Strategy]
    specs: list[ServerSpec]  # one per server of the run ("dsn" for --dsn)
    server_options: ServerOptions


def preflight(settings: Settings) -> Plan:
    """The run's plan; raises UsageError (one line) on a setting that cannot work."""
    strategies = select(discover(settings.path(settings.strategies_dir)), settings.strategies)
    specs = [ServerSpec("dsn")] if settings.database_url else parse_pg(settings.pg, settings.pg_bin)
    options = ServerOptions(parse_pg_settings(settings.pg_settings), settings.pg_bin,
                            settings.schema, settings.keep_schema, settings.transport, settings.latencies)
    if settings.contention and (settings.table_rows or settings.duplicate_keys):
        raise UsageError("--contention works on the plain tables only: leave out --table-rows and "
                         "--duplicate-keys (its second writer and its check know ids 1..items only)")
    if settings.database_url:
        check_dsn_options(settings.database_url, options)
    check_results_dir(settings.path(settings.results_dir))  # before anything needs removing
    return Plan(strategies, specs, options)


def check_version(target: Target, strategies: list[Strategy]) -> None:
    """Refuse, in one line, a server too old for the catalogue and the harness's statistics."""
    if target.major >= MIN_MAJOR:
        return
    merge = [s.name for s in strategies if s.tags.get("technique") in ("sql_merge", "copy_merge")]
    raise UsageError(
        f"PostgreSQL {target.server_version} ({target.label}) is older than {MIN_MAJOR}: MERGE "
        f"strategies ({', '.join(merge) or 'none selected'}) need 15+, and the harness's statistics "
        "need pg_stat_force_next_flush() (15+) and pg_stat_database.sessions (14+)")
