"""SQL text shared by the strategies that write raw `INSERT ... ON CONFLICT` statements.

A statement's target is the table's schema-qualified name, `work.table("users")` (rule R21 in
docs/adding-a-strategy.md): the statement then writes into the run's schema whatever the
session's search_path is. Column lists, placeholders and types take the plain table name.
"""

from contract.workload import COLUMN_TYPES, COLUMNS


def column_list(table: str) -> str:
    """`id, name, email, ...` for `table`."""
    return ", ".join(COLUMNS[table])


def placeholders(table: str, style: str = "%s") -> str:
    """`(%s, %s, ...)` for one row of `table`; style "$" gives asyncpg's `($1, $2, ...)`."""
    count = len(COLUMNS[table])
    marks = [f"${n}" for n in range(1, count + 1)] if style == "$" else [style] * count
    return f"({', '.join(marks)})"


def column_types(table: str, suffix: str = "") -> tuple[str, ...]:
    """The PostgreSQL type of each column of `table` (`suffix="[]"` for array types)."""
    return tuple(t + suffix for t in COLUMN_TYPES[table])


def update_set(table: str, source: str = "EXCLUDED") -> str:
    """`name = EXCLUDED.name, ...`: every non-key column taken from `source`."""
    return ", ".join(f"{c} = {source}.{c}" for c in COLUMNS[table] if c != "id")


def table_name(target: str) -> str:
    """The plain table name of a target: `users` for `upsert_bench_x.users` (or `users`)."""
    return target.rpartition(".")[2]


def distinct_condition(table: str, stored: str, incoming: str) -> str:
    """`(stored.name, ...) IS DISTINCT FROM (incoming.name, ...)` over every non-key column of
    `table`: true when any value differs. Row-wise IS DISTINCT FROM compares NULL with NULL as
    equal and NULL with a value as different, where `<>` would give NULL for either."""
    cols = [c for c in COLUMNS[table] if c != "id"]
    return (f"({', '.join(f'{stored}.{c}' for c in cols)}) IS DISTINCT FROM "
            f"({', '.join(f'{incoming}.{c}' for c in cols)})")


def upsert_statement(target: str, values: str = "VALUES %s", skip_unchanged: bool = False) -> str:
    """`INSERT INTO target (cols) <values> ON CONFLICT (id) DO UPDATE SET <every column>`.

    `target` is the qualified table, `work.table("users")`. `values` is what follows the column
    list: `VALUES %s` (psycopg2 execute_values), `VALUES (%s, %s, ...)`, or `SELECT ... FROM
    staging`. `skip_unchanged` names the target `t` and adds `WHERE <distinct_condition(t,
    EXCLUDED)>` to the DO UPDATE: a row already holding the values is not rewritten (but still
    locked: the INSERT docs' "all rows will be locked when the ON CONFLICT DO UPDATE action is
    taken")."""
    table = table_name(target)
    return (f"INSERT INTO {target}{' AS t' if skip_unchanged else ''} ({column_list(table)}) "
            f"{values} ON CONFLICT (id) DO UPDATE SET {update_set(table)}"
            f"{' WHERE ' + distinct_condition(table, 't', 'EXCLUDED') if skip_unchanged else ''}")


def changed_rows(target: str, source: str) -> str:
    """`SELECT s.<cols> FROM <source> AS s LEFT JOIN target AS cur ON cur.id = s.id WHERE
    cur.id IS NULL OR <distinct_condition(cur, s)>`: the rows of `source` that are new or differ
    from the stored row, as of the statement's snapshot (a plain read: nothing is locked).
    `target` is the qualified table, `work.table("users")`; `source` a table whose columns are
    named like the table's."""
    table = table_name(target)
    return (f"SELECT {', '.join('s.' + c for c in COLUMNS[table])} FROM {source} AS s "
            f"LEFT JOIN {target} AS cur ON cur.id = s.id "
            f"WHERE cur.id IS NULL OR {distinct_condition(table, 'cur', 's')}")


def merge_statement(target: str, source: str, skip_unchanged: bool = False) -> str:
    """`MERGE INTO target AS t USING <source> AS s ON t.id = s.id` updating every column when
    matched and inserting when not. `target` is the qualified table, `work.table("users")`;
    `source` a (temporary) table or a parenthesised query whose columns are named like the
    table's (PostgreSQL 15+). `skip_unchanged` makes it `WHEN MATCHED AND <distinct_condition(t,
    s)> THEN UPDATE`: a matched row already holding the values takes no action (not locked)."""
    table = table_name(target)
    cols = COLUMNS[table]
    when = f" AND {distinct_condition(table, 't', 's')}" if skip_unchanged else ""
    return (f"MERGE INTO {target} AS t USING {source} AS s ON t.id = s.id WHEN MATCHED{when} "
            f"THEN UPDATE SET {update_set(table, 's')} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) "
            f"VALUES ({', '.join('s.' + c for c in cols)})")
