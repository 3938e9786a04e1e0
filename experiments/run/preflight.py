"""What a run will do, checked before the harness is loaded: the strategies it selects, the
servers `--pg` names (or the `--dsn` URI and schema), their settings and the results folder. A bad value is one line within a
fraction of a second (the runner imports the drivers, rich and psutil: about a second)."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.catalog import Strategy, discover, select
from experiments.config import Settings, parse_pg_settings
from experiments.run.folder import check_results_dir
from experiments.servers import ServerOptions, ServerSpec, check_dsn_options, parse_pg


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
                            settings.schema, settings.keep_schema)
    if settings.database_url:
        check_dsn_options(settings.database_url, options)
    check_results_dir(settings.path(settings.results_dir))  # before anything needs removing
    return Plan(strategies, specs, options)
