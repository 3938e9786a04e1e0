"""The strategy API: what `main(work)` receives, the tables' columns, and the rows it writes.

`Workload` is what a strategy's `main(work)` receives (the **contract** in DESIGN.md); a strategy
may also import the column names and types (`COLUMNS`, `COLUMN_TYPES`, ...) from here. The harness
builds, stages and verifies the same rows from this module.

Rows are pure functions of (id, phase, items): the insert phase and the update phase give every
id different values in every non-key column, and the text values carry the things that break
hand-rolled escaping and COPY: quotes, backslashes, tab, newline, carriage return, the literal
strings `\\N` and `NULL`, empty strings (not NULL), NULLs, padding spaces, non-ASCII letters,
emoji and strings over 10,000 characters.

The phases (`PHASES`), each from its canonical starting state to the rows it must leave:
- insert: empty tables (of the pass's keys) -> the insert values;
- update: every key holds its insert values -> the update values (every non-key column changes;
  address i moves to the next user);
- mixed: a share of the keys (`hit_ratio`, spread evenly) hold their insert values, the others
  are absent -> every key with the update values (addresses stay with their own user, so a row
  never refers to a user another thread of the same pass may not have written yet);
- unchanged: every key holds its insert values -> the same values (a no-op upsert).
`Keys` says which ids a pass writes: 1..items, or with `table_rows` other rows in the tables
those ids spread evenly among the others; and which keys appear twice in the input
(`duplicate_keys`, percent): first with stale values, immediately followed by the row that must
end up in the table (the later one wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from urllib.parse import urlsplit, urlunsplit

PHASES = ("insert", "update", "mixed", "unchanged")  # every phase a pass can be, in report order
DEFAULT_PHASES = ("insert", "update")  # the original's two passes (--phases selects)
# the values a concurrent writer uses in contention mode: different again from both phases
CONTEND = "contend"
# the values of a duplicate key's first (stale) copy in the input: different from every phase's
STALE = "stale"
ROW_PHASES = (*PHASES, CONTEND, STALE)
# which value set each row phase uses (0 insert, 1 update, 2 contend, 3 stale)
_value_set = {"insert": 0, "update": 1, "mixed": 1, "unchanged": 0, CONTEND: 2, STALE: 3}

USER_COLUMNS = ("id", "name", "email", "bio", "karma")
ADDRESS_COLUMNS = ("id", "user_id", "street", "city", "postcode")
COLUMNS = {"users": USER_COLUMNS, "addresses": ADDRESS_COLUMNS}
# PostgreSQL type of each column, in COLUMNS order (schema.py's DDL; a test keeps them equal)
COLUMN_TYPES = {
    "users": ("integer", "text", "text", "text", "integer"),
    "addresses": ("integer", "integer", "text", "text", "text"),
}

# Values that break naive escaping. Consecutive entries differ, so the update phase (which
# takes the next entry) changes every row. None is SQL NULL, "" is the empty string.
TRAPS: tuple[str | None, ...] = (
    "plain text",
    "it's O'Brien's",
    'say "hello"',
    "back\\slash and C:\\path\\new",
    None,
    "tab\there",
    "",
    "new\nline",
    "\\N",
    "carriage\rreturn\r\n",
    "NULL",
    "  leading and trailing  ",
    "naïve café Zoë Ærøskøbing Ünïcödé",
    "pizza 🍕 and 👩‍💻",
    "null",
    "'; DROP TABLE users; --",
    "{\"json\": [1, 2]} and {braces}",
    "\\.",
    "comma, separated, \"quoted\"",
    " ",
)
FIRST_NAMES = ("Ann", "Bob", "Chloé", "D'Arcy", "Émile", "Fatima", "Grzegorz", "Hana 花",
               "Ian", "Jürgen", "Kwame", "Lúcia", "Mohammed", "Nnamdi", "Olga", "Priya")
LAST_NAMES = ("O'Neil", "Smith", "Müller", "García", "Nguyễn", "Øster", "Kowalski", "Tanaka",
              "Doe-Smith", "van der Berg", "Łukasiewicz", "Ng")
STREETS = ("Main St", "Rue de l'Église", "Königstraße", "Calle \"Mayor\"", "Back\\Lane",
           "High St\tUnit 2", "Ulica Długa", "🍕 Pizza Row", "Quay\nSide", "Elm St")
CITIES = ("Paris", None, "München", "São Paulo", "", "Kraków", "NULL", "Zürich", "\\N",
          "Reykjavík", "  Oslo ", "東京")
LONG_TEXT_CHARS = 12_000
LONG_TEXT_UNIT = "long 'text' \"quoted\" back\\slash\ttab\nnewline 🍕 ünï "


def _phase_index(phase: str) -> int:
    try:
        return _value_set[phase]
    except KeyError:
        raise ValueError(f"phase must be one of {ROW_PHASES}, got {phase!r}") from None


def _long_every(items: int) -> int:
    """Every how many rows a bio is a long (10,000+ character) string: at least a few per run."""
    return max(2, min(1_000, items // 3))


def user_row(i: int, phase: str, items: int) -> tuple:
    """The users row for id `i` (1-based) in `phase`, in USER_COLUMNS order."""
    p = _phase_index(phase)
    first = FIRST_NAMES[(i + p) % len(FIRST_NAMES)]
    last = LAST_NAMES[(i * 7 + p) % len(LAST_NAMES)]
    name = f"{first} {last} #{i}" + (f" (v{p + 1})" if p else "")
    # NULL-to-value and value-to-NULL transitions both happen
    email = None if i % 7 == (3, 5, 6, 1)[p] else f"user{i}.v{p + 1}@example.org"
    if i % _long_every(items) == p:
        reps = LONG_TEXT_CHARS // len(LONG_TEXT_UNIT) + 1
        bio = f"[{i}/{p}] " + LONG_TEXT_UNIT * reps
    else:
        bio = TRAPS[(i + p) % len(TRAPS)]
    karma = (i * 37) % 1_000 + 1_000 * p
    return (i, name, email, bio, karma)


def address_row(i: int, phase: str, items: int, table_rows: int = 0) -> tuple:
    """The addresses row for id `i` in `phase`, in ADDRESS_COLUMNS order. In the update phase
    address i belongs to the next key's user (the last to the first's: `Keys.next_key`); in every
    other phase to user i, its own (the contender's too, which upserts that user in the same
    transaction: a user outside its batch may be one the strategy has not re-inserted yet)."""
    p = _phase_index(phase)
    user_id = _next_key(i, items, items + table_rows) if phase == "update" else i
    street = f"{i * 3 + p} {STREETS[(i + p) % len(STREETS)]}"
    city = CITIES[(i + p) % len(CITIES)]
    postcode = None if i % 5 == (1, 2, 3, 4)[p] else f"{p}{i % 100_000:05d}"
    return (i, user_id, street, city, postcode)


def _next_key(i: int, items: int, span: int) -> int:
    """The pass key after `i` among `items` keys spread over 1..span (`Keys.next_key`)."""
    if span == items:
        return i % items + 1
    j = (i * items) // span % items + 1
    return (j * span + items - 1) // items


def row(table: str, i: int, phase: str, items: int, table_rows: int = 0) -> tuple:
    """`table`'s row for id `i` in `phase` (ROW_FUNCTIONS, with the layout the next key needs)."""
    if table == "users":
        return user_row(i, phase, items)
    return address_row(i, phase, items, table_rows)


def _spread(j: int, share: Fraction) -> bool:
    """Is the j-th of a sequence (1-based) one of an evenly spread `share` of it?"""
    return (j * share.numerator) // share.denominator > ((j - 1) * share.numerator) // share.denominator


def _fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(10_000)


@dataclass(frozen=True)
class Keys:
    """Which ids a pass writes, which of them exist before a mixed pass, which appear twice.

    Without other rows (`table_rows` 0) the pass's keys are 1..items. With N other rows the ids
    1..items+N hold both, the pass's `items` keys spread evenly among the others (key j is
    ceil(j (items+N) / items)): the tables hold N other users and their addresses (insert values,
    each address its own user's) that no pass touches. The same integer arithmetic decides, in
    SQL, which stored rows are the pass's (`schema.py`): `pass_key_sql`, `hit_sql`."""

    items: int
    table_rows: int = 0
    hit_ratio: float = 0.5
    duplicate_keys: float = 0.0  # percent of the keys that appear twice in the input

    @property
    def span(self) -> int:
        """The ids in use, 1..span: the pass's keys and the other rows'."""
        return self.items + self.table_rows

    def key(self, j: int) -> int:
        """The id of the pass's j-th key (1-based)."""
        return (j * self.span + self.items - 1) // self.items

    def index(self, key: int) -> int:
        """The j of a pass key (the inverse of `key`)."""
        return (key * self.items) // self.span

    def is_pass_key(self, i: int) -> bool:
        return 1 <= i <= self.span and (i * self.items) // self.span > ((i - 1) * self.items) // self.span

    def next_key(self, i: int) -> int:
        """The pass key after `i`, the first after the last (whom address i moves to in an update)."""
        return _next_key(i, self.items, self.span)

    def pass_keys(self) -> Iterator[int]:
        return (self.key(j) for j in range(1, self.items + 1))

    def other_keys(self) -> Iterator[int]:
        return (i for i in range(1, self.span + 1) if not self.is_pass_key(i))

    def hit(self, i: int) -> bool:
        """Does pass key `i` exist before a mixed pass (an evenly spread `hit_ratio` of them)?"""
        return _spread(self.index(i), _fraction(self.hit_ratio))

    def duplicated(self, i: int) -> bool:
        """Does pass key `i` appear twice in the input (stale values first)?"""
        return self.duplicate_keys > 0 and _spread(self.index(i), _fraction(self.duplicate_keys / 100))

    def input_rows(self, table: str, phase: str) -> Iterator[tuple]:
        """A phase's input in order: every pass key's row, a duplicated key's stale copy just before it."""
        for i in self.pass_keys():
            if self.duplicated(i):
                yield row(table, i, STALE, self.items, self.table_rows)
            yield row(table, i, phase, self.items, self.table_rows)

    def final_rows(self, table: str, phase: str) -> Iterator[tuple]:
        """What `table` must hold after a `phase` pass, in id order: the pass's keys with the
        phase's values, the other rows as they were."""
        for i in range(1, self.span + 1):
            yield row(table, i, phase if self.is_pass_key(i) else "insert", self.items, self.table_rows)

    @classmethod
    def of(cls, keys: Keys | int) -> Keys:
        """`keys` itself, or the plain layout of that many items (ids 1..items)."""
        return keys if isinstance(keys, Keys) else cls(keys)

    def pass_key_sql(self, column: str = "id") -> str:
        """SQL true for a pass key's id (integer division is floor division for positive ids)."""
        if not self.table_rows:
            return "true"
        return (f"({column}::bigint * {self.items}) / {self.span} > "
                f"(({column}::bigint - 1) * {self.items}) / {self.span}")

    def hit_sql(self, column: str = "id") -> str:
        """SQL true for a pass key that exists before a mixed pass (`hit`)."""
        share = _fraction(self.hit_ratio)
        j = f"(({column}::bigint * {self.items}) / {self.span})"
        return (f"({j} * {share.numerator}) / {share.denominator} > "
                f"(({j} - 1) * {share.numerator}) / {share.denominator}")


ROW_FUNCTIONS = {"users": user_row, "addresses": address_row}  # (i, phase, items), no other rows
# a schema name that needs no quoting in SQL text (what --schema accepts; "public" for ours)
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def stage_table(phase: str, table: str) -> str:
    """Name of the harness's unlogged copy of `phase`'s rows for `table`, inside the server."""
    return f"bench_stage_{phase}_{table}"


def sqlalchemy_url(dsn: str, driver: str = "psycopg2") -> str:
    """`postgresql://...` as a SQLAlchemy URL for `driver` (psycopg2, psycopg, asyncpg, ...)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("the DSN must be a postgresql:// URI to build a SQLAlchemy URL")
    return urlunsplit(parts._replace(scheme=f"postgresql+{driver}"))


@dataclass
class Workload:
    """What `main(work)` gets: where to write, how much, how many threads, and the rows.

    `items` is the number of rows per table (`--items`, `TOTAL_ITEMS` in `.env`); `total` is the
    same number under the original project's name, read-only, kept for code written against it.

    `users()` / `addresses()` return lists of tuples in column order (built once, before the
    timer starts); `user_dicts()` / `address_dicts()` the same rows as dicts (built on first
    call, inside the timed region); `iter_users()` / `iter_addresses()` generate rows lazily
    for strategies that stream. `columns` maps table name to its column names.

    `schema` is the run's schema and `table(name)` a table's schema-qualified name
    (`upsert_bench_x.users`): every statement a strategy sends names its tables that way, so it
    writes into the run's schema whatever the session's search_path is (a pooler may drop the
    `options` that set it). The rule and its test: docs/adding-a-strategy.md.

    For reference rows only (the server-only floor): `staged_table(table)` names the table in
    which the harness already holds this phase's rows (qualified too). Every row, the floor's
    too, is timed over all of `main()`: connecting, the statements, committing.
    """

    dsn: str
    items: int
    phase: str
    threads: int = 1
    schema: str = "public"
    table_rows: int = 0  # --table-rows: other rows in the tables, untouched (see Keys)
    hit_ratio: float = 0.5  # --hit-ratio: the share of keys that exist before a mixed pass
    duplicate_keys: float = 0.0  # --duplicate-keys: percent of keys given twice, the later wins
    columns: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(COLUMNS))
    _cache: dict[str, list] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _phase_index(self.phase)
        if self.items < 1:
            raise ValueError("items must be at least 1")
        if not SCHEMA_NAME.fullmatch(self.schema):
            raise ValueError(f"schema must be a plain lower-case identifier, got {self.schema!r}")

    @property
    def total(self) -> int:
        """`items` under the original project's name (read-only), for code written against it."""
        return self.items

    @property
    def keys(self) -> Keys:
        return Keys(self.items, self.table_rows, self.hit_ratio, self.duplicate_keys)

    def iter_rows(self, table: str) -> Iterator[tuple]:
        if not (self.table_rows or self.duplicate_keys):  # the plain layout: ids 1..items
            make = ROW_FUNCTIONS[table]
            return (make(i, self.phase, self.items) for i in range(1, self.items + 1))
        return self.keys.input_rows(table, self.phase)

    def iter_users(self) -> Iterator[tuple]:
        return self.iter_rows("users")

    def iter_addresses(self) -> Iterator[tuple]:
        return self.iter_rows("addresses")

    def rows(self, table: str) -> list[tuple]:
        if table not in self._cache:
            self._cache[table] = list(self.iter_rows(table))
        return self._cache[table]

    def users(self) -> list[tuple]:
        return self.rows("users")

    def addresses(self) -> list[tuple]:
        return self.rows("addresses")

    def dicts(self, table: str) -> list[dict]:
        key = f"{table}:dicts"
        if key not in self._cache:
            names = self.columns[table]
            self._cache[key] = [dict(zip(names, row)) for row in self.rows(table)]
        return self._cache[key]

    def user_dicts(self) -> list[dict]:
        return self.dicts("users")

    def address_dicts(self) -> list[dict]:
        return self.dicts("addresses")

    def sqlalchemy_url(self, driver: str = "psycopg2") -> str:
        return sqlalchemy_url(self.dsn, driver)

    def table(self, name: str) -> str:
        """`name` qualified with the run's schema, ready to put into SQL text (`schema.users`)."""
        return f"{self.schema}.{name}"

    def staged_table(self, table: str) -> str:
        return self.table(stage_table(self.phase, table))
