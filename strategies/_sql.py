"""SQL text shared by the strategies that write raw `INSERT ... ON CONFLICT` statements."""

from experiments.workload import COLUMN_TYPES, COLUMNS


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


def upsert_statement(table: str, values: str = "VALUES %s") -> str:
    """`INSERT INTO table (cols) <values> ON CONFLICT (id) DO UPDATE SET <every column>`.

    `values` is what follows the column list: `VALUES %s` (psycopg2 execute_values),
    `VALUES (%s, %s, ...)`, or `SELECT ... FROM staging`."""
    return (f"INSERT INTO {table} ({column_list(table)}) {values} "
            f"ON CONFLICT (id) DO UPDATE SET {update_set(table)}")


def merge_statement(table: str, source: str) -> str:
    """`MERGE INTO table AS t USING <source> AS s ON t.id = s.id` updating every column when
    matched and inserting when not. `source` is a table name or a parenthesised query whose
    columns are named like the table's (PostgreSQL 15+)."""
    cols = COLUMNS[table]
    return (f"MERGE INTO {table} AS t USING {source} AS s ON t.id = s.id "
            f"WHEN MATCHED THEN UPDATE SET {update_set(table, 's')} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) "
            f"VALUES ({', '.join('s.' + c for c in cols)})")
