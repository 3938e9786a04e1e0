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


def upsert_statement(target: str, values: str = "VALUES %s") -> str:
    """`INSERT INTO target (cols) <values> ON CONFLICT (id) DO UPDATE SET <every column>`.

    `target` is the qualified table, `work.table("users")`. `values` is what follows the column
    list: `VALUES %s` (psycopg2 execute_values), `VALUES (%s, %s, ...)`, or `SELECT ... FROM
    staging`."""
    table = table_name(target)
    return (f"INSERT INTO {target} ({column_list(table)}) {values} "
            f"ON CONFLICT (id) DO UPDATE SET {update_set(table)}")


def merge_statement(target: str, source: str) -> str:
    """`MERGE INTO target AS t USING <source> AS s ON t.id = s.id` updating every column when
    matched and inserting when not. `target` is the qualified table, `work.table("users")`;
    `source` a (temporary) table or a parenthesised query whose columns are named like the
    table's (PostgreSQL 15+)."""
    table = table_name(target)
    cols = COLUMNS[table]
    return (f"MERGE INTO {target} AS t USING {source} AS s ON t.id = s.id "
            f"WHEN MATCHED THEN UPDATE SET {update_set(table, 's')} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) "
            f"VALUES ({', '.join('s.' + c for c in cols)})")
