"""Value verification: the tables' contents, checksummed inside PostgreSQL, against the workload.

Every value is encoded unambiguously as `<length>:<text>` (NULL as `~`), a row as its values
joined by `|`, and a table as the md5 of the concatenated per-row md5s in id order. PostgreSQL
computes it over what is stored; Python computes it from the workload. One wrong character,
a NULL where an empty string belongs, an extra or missing row: the checksums differ. On a
mismatch, `verify_table` finds the first differing row and column so the error says what broke.
With other rows in the tables (`--table-rows`), the pass's keys and the other rows are
checksummed apart in the same scan: the pass's rows against the phase, the others against the
values they were given (untouched).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from psycopg import sql

from contract.workload import COLUMNS, Keys, stage_table
from contract.workload import row as table_row


def encode_value(value: object) -> str:
    if value is None:
        return "~"
    text = value if isinstance(value, str) else str(value)
    return f"{len(text)}:{text}"


def row_digest(row: tuple) -> str:
    return hashlib.md5("|".join(encode_value(v) for v in row).encode("utf-8")).hexdigest()


def _encoded_row_sql(table: str) -> sql.Composed:
    parts = [
        sql.SQL("coalesce(length({c}::text) || ':' || {c}::text, '~')").format(c=sql.Identifier(c))
        for c in COLUMNS[table]
    ]
    return sql.SQL("concat_ws('|', {})").format(sql.SQL(", ").join(parts))


def checksum_query(schema: str, table: str, keys: Keys | None = None) -> sql.Composed:
    """count and checksum of the pass's rows, then of the other rows (0 and md5('') without)."""
    is_pass = sql.SQL((keys or Keys(1)).pass_key_sql())
    digest = sql.SQL("md5(coalesce(string_agg(md5({row}), '' ORDER BY id) FILTER (WHERE {p}), ''))")
    return sql.SQL(
        "SELECT count(*) FILTER (WHERE {p}), {ours}, count(*) FILTER (WHERE NOT {p}), {others} FROM {t}"
    ).format(p=is_pass, ours=digest.format(row=_encoded_row_sql(table), p=is_pass),
             others=digest.format(row=_encoded_row_sql(table), p=sql.SQL("NOT ({})").format(is_pass)),
             t=sql.Identifier(schema, table))


@lru_cache(maxsize=8)  # contention's check reads two phases' rows after every contended pass
def expected_rows(table: str, phase: str, keys: Keys | int) -> tuple[tuple, ...]:
    """Every row `table` must hold after a `phase` pass, in id order (the other rows' too)."""
    return tuple(Keys.of(keys).final_rows(table, phase))


def _digest_of(rows) -> str:
    return hashlib.md5("".join(row_digest(row) for row in rows).encode("ascii")).hexdigest()


@lru_cache(maxsize=16)
def expected_checksum(table: str, phase: str, keys: Keys | int) -> str:
    """The checksum of the pass's rows after a `phase` pass."""
    keys = Keys.of(keys)
    return _digest_of(table_row(table, i, phase, keys.items, keys.table_rows) for i in keys.pass_keys())


@lru_cache(maxsize=4)
def expected_other_checksum(table: str, keys: Keys) -> str:
    """The checksum of the other rows (`--table-rows`), which every pass leaves as they are."""
    return _digest_of(table_row(table, i, "insert", keys.items, keys.table_rows) for i in keys.other_keys())


@dataclass(frozen=True)
class TableCheck:
    table: str
    count: int
    counts_ok: bool
    values_ok: bool
    problem: str = ""  # one line, empty when both are ok


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_difference(conn, schema: str, table: str, phase: str, keys: Keys) -> str:
    """Describe how the stored rows differ from the expected ones, in one line."""
    expected = {row[0]: row for row in expected_rows(table, phase, keys)}
    query = sql.SQL("SELECT id, md5({row}) FROM {t} ORDER BY id").format(
        row=_encoded_row_sql(table), t=sql.Identifier(schema, table)
    )
    stored = dict(conn.execute(query).fetchall())
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    wrong = [i for i in sorted(set(expected) & set(stored)) if stored[i] != row_digest(expected[i])]
    pieces = []
    if wrong:
        i = wrong[0]
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS[table])
        got = conn.execute(
            sql.SQL("SELECT {c} FROM {t} WHERE id = %s").format(c=cols, t=sql.Identifier(schema, table)), (i,)
        ).fetchone()
        diffs = [
            f"{name} expected {_short(want)} got {_short(have)}"
            for name, want, have in zip(COLUMNS[table], expected[i], got)
            if encode_value(want) != encode_value(have)
        ]
        pieces.append(f"{len(wrong)} {table} rows differ, first id {i}: {'; '.join(diffs)}")
    if missing:
        pieces.append(f"{len(missing)} {table} rows missing (first id {missing[0]})")
    if extra:
        pieces.append(f"{len(extra)} unexpected {table} rows (first id {extra[0]})")
    return ", ".join(pieces) or f"{table} checksum differs"


def verify_table(conn, schema: str, table: str, phase: str, keys: Keys | int) -> TableCheck:
    """`table` after a `phase` pass: `count` is the pass's rows (the other rows checked apart)."""
    keys = Keys.of(keys)
    count, digest, others, others_digest = conn.execute(checksum_query(schema, table, keys)).fetchone()
    counts_ok = count == keys.items and others == keys.table_rows
    values_ok = digest == expected_checksum(table, phase, keys) and (
        others_digest == expected_other_checksum(table, keys) if keys.table_rows else others == 0)
    problem = ""
    if not values_ok:
        problem = _first_difference(conn, schema, table, phase, keys)
    elif not counts_ok:  # cannot happen when values match, kept for clarity
        problem = f"{table} has {count} rows, expected {keys.items}"
    return TableCheck(table, count, counts_ok, values_ok, problem)


@dataclass(frozen=True)
class Verification:
    users: int
    addresses: int
    counts_ok: bool
    values_ok: bool
    problem: str

    @property
    def success(self) -> bool:
        return self.counts_ok and self.values_ok


def verify(conn, schema: str, phase: str, keys: Keys | int) -> Verification:
    """Check both tables of `schema` hold exactly this phase's rows (`keys.items` of them, or
    `keys` rows when it is a number), value for value, and the other rows untouched."""
    keys = Keys.of(keys)
    checks = [verify_table(conn, schema, table, phase, keys) for table in COLUMNS]
    users, addresses = (c.count for c in checks)
    problems = [c.problem for c in checks if c.problem]
    if any(not c.counts_ok for c in checks):
        problems.insert(0, f"counts: users {users}, addresses {addresses}, expected {keys.items} each"
                        + (f" (and {keys.table_rows:,} other rows each)" if keys.table_rows else ""))
    return Verification(
        users=users,
        addresses=addresses,
        counts_ok=all(c.counts_ok for c in checks),
        values_ok=all(c.values_ok for c in checks),
        problem="; ".join(problems),
    )


@dataclass(frozen=True)
class ContendedCheck:
    users: int
    addresses: int
    counts_ok: bool
    torn_rows: int  # rows holding neither writer's values
    contender_rows: int  # rows that ended with the contender's values
    problem: str

    @property
    def values_ok(self) -> bool:
        return self.torn_rows == 0

    @property
    def success(self) -> bool:
        return self.counts_ok and self.values_ok


def verify_contended(conn, schema: str, total: int, contended: set[int]) -> ContendedCheck:
    """After an update pass under contention: every row must hold the update phase's values or,
    for the contended ids, the contender's; any other row is torn (or a lost update)."""
    counts, torn, theirs, problems = {}, 0, 0, []
    for table in COLUMNS:
        query = sql.SQL("SELECT id, md5({row}) FROM {t}").format(
            row=_encoded_row_sql(table), t=sql.Identifier(schema, table))
        stored = dict(conn.execute(query).fetchall())
        counts[table] = len(stored)
        ours = {row[0]: row_digest(row) for row in expected_rows(table, "update", total)}
        contender = {row[0]: row_digest(row) for row in expected_rows(table, "contend", total)}
        bad = []
        for i, digest in stored.items():
            if digest == ours.get(i):
                continue
            if i in contended and digest == contender.get(i):
                theirs += 1
                continue
            bad.append(i)
        missing = sorted(set(ours) - set(stored))
        torn += len(bad) + len(missing)
        if bad:
            problems.append(f"{len(bad)} {table} rows hold neither writer's values (first id {min(bad)})")
        if missing:
            problems.append(f"{len(missing)} {table} rows missing (first id {missing[0]})")
    counts_ok = counts["users"] == counts["addresses"] == total
    return ContendedCheck(counts["users"], counts["addresses"], counts_ok, torn, theirs, "; ".join(problems))


def check_stage(conn, work, table: str) -> str:
    """A stage table (a phase's input) against `work`'s rows for `table`, as a multiset (a
    duplicated key's two rows in any order): "" when equal, else what differs, in one line."""
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(d, '' ORDER BY id, d COLLATE \"C\"), '')) "
        "FROM (SELECT id, md5({row}) AS d FROM {t}) AS s"
    ).format(row=_encoded_row_sql(table), t=sql.Identifier(work.schema, stage_table(work.phase, table)))
    count, digest = conn.execute(query).fetchone()
    rows = sorted((r[0], row_digest(r)) for r in work.iter_rows(table))
    if count != len(rows):
        return f"{stage_table(work.phase, table)} has {count} rows, expected {len(rows)}"
    if digest != hashlib.md5("".join(d for _, d in rows).encode("ascii")).hexdigest():
        return f"{stage_table(work.phase, table)} holds other values than the {work.phase} input"
    return ""
