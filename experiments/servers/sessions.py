"""A session in the run's schema, checked, never assumed.

Strategies' and the harness's sessions start in the run's schema through the libpq startup
parameter `options=-csearch_path=<schema>` (`experiments.urls.with_params`). Something between
us and the server may refuse it (PgBouncer by default: "unsupported startup parameter: options")
or drop it silently (PgBouncer's `ignore_startup_parameters = options`), and then an unqualified
table name would land in the user's own `public` tables. So a session is checked before it is
trusted: `require_schema` inside the transaction whose writes it protects, `check_new_session`
before every worker of a --dsn run, `connect_in_schema` for the harness's own connection.
"""

from __future__ import annotations

import psycopg

from contract.errors import UsageError
from experiments.urls import connect_error

POOLER_HELP = "see 'Running through a pooler' in docs/usage.md"


class WrongSchema(UsageError):
    """A session opened with the run's DSN does not start in the run's schema: something between
    us and the server (a pooler) dropped the search_path option. Nothing may be written then:
    the run stops with one line and exit status 2."""


def require_schema(conn: psycopg.Connection, schema: str) -> None:
    """Raise WrongSchema unless this session's current_schema() is `schema`. Called inside the
    transaction whose writes it protects: a transaction-mode pooler keeps one server connection
    for a whole transaction, but may hand the next one to another."""
    current = conn.execute("SELECT current_schema()").fetchone()[0]
    if current != schema:
        search_path = conn.execute("SELECT current_setting('search_path')").fetchone()[0]
        raise WrongSchema(f"the server or a pooler ignored the search_path option: sessions start in "
                          f"schema {current or '(none)'} (search_path {search_path}), not {schema}; "
                          f"nothing was written ({POOLER_HELP})")


def check_new_session(dsn: str, schema: str) -> None:
    """Open a session the way a strategy does (same DSN) and require it to start in `schema`."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        require_schema(conn, schema)


def connect_in_schema(dsn: str, schema: str, what: str, **options) -> psycopg.Connection:
    """An autocommit connection with `dsn` that is checked to start in `schema`; a connection
    that fails (a pooler refusing the search_path option: "unsupported startup parameter:
    options") or starts elsewhere is one line, exit status 2."""
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10, **options)
        conn.prepare_threshold = None  # no prepared statements: a pooler may change the session
    except psycopg.OperationalError as error:
        raise UsageError(f"cannot connect to {what}: {connect_failure(error)}") from None
    try:
        require_schema(conn, schema)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_failure(error: Exception) -> str:
    """The connection error's line, and what to do when a pooler refused the search_path option."""
    line = connect_error(error)
    if "startup parameter" in line and "options" in line:
        line += (" (a pooler between us and the server refuses the search_path option the run's sessions "
                 f"carry; {POOLER_HELP})")
    return line
