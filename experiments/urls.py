"""Connection strings, in one place: redacting a password, adding query parameters (search_path,
application_name), pointing one at a relay, a SQLAlchemy URL for a driver, and the one line of a
connection error."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# the strategy API's `work.sqlalchemy_url()` uses it: defined there (contract imports no harness)
from contract.workload import sqlalchemy_url  # noqa: F401 (re-exported)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by `***` (URI userinfo, `password=` query or keyword)."""
    if not dsn:
        return dsn
    if "://" not in dsn:  # libpq keyword/value form
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/:,*", quote_via=quote)))


def with_params(dsn: str, schema: str = "public", **params: str) -> str:
    """`dsn` with extra query parameters, and sessions starting in `schema` (libpq `options`).
    asyncpg passes unknown parameters on as server settings, so they work for it too."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    if schema != "public":
        query["options"] = (query.get("options", "") + f" -csearch_path={schema}").strip()
    return urlunsplit(parts._replace(query=urlencode(query, safe="/:,", quote_via=quote)))


def relayed(dsn: str, host: str, port: int | None = None) -> str:
    """`dsn` pointing at a relay (experiments/servers/relay.py) instead of its server: `host` a
    folder (a Unix socket there, libpq's `.s.PGSQL.5432` when `port` is None) or an address with
    `port`. Everything else (user, password, database, options, application_name) stays."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("host", "hostaddr", "port")]
    netloc = userinfo + "@" if userinfo else ""
    if host.startswith("/"):
        query.insert(0, ("host", host))
        if port is not None:
            query.insert(1, ("port", str(port)))
    else:
        netloc += f"{host}:{port}"
    query_text = urlencode(query, safe="/:,", quote_via=quote)
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query_text}" if query_text else "")


def connect_error(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
