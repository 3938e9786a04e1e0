"""pandas: `DataFrame.to_sql(method=callable)` with `INSERT ... ON CONFLICT DO UPDATE`, 1,000 rows a chunk.

`to_sql` only inserts; its `method` parameter takes a "callable with signature `(pd_table,
conn, keys, data_iter)`" that decides how each chunk is written. The pandas docs show one for
PostgreSQL that builds `sqlalchemy.dialects.postgresql.insert(table.table).values(data)
.on_conflict_do_nothing(...)` from `data = [dict(zip(keys, row)) for row in data_iter]`; this
strategy is that example with `.on_conflict_do_update(index_elements=["id"], set_={every other
column: stmt.excluded[column]})`, as SQLAlchemy's PostgreSQL dialect documents it. Each chunk
becomes one multi-row `INSERT ... VALUES (...), (...) ON CONFLICT (id) DO UPDATE`, which
psycopg2 renders client-side. The frames are built from the workload's tuples with the
workload's column names; `to_sql(..., if_exists="append", index=False)` writes them into the
existing tables (no DDL, no index column) through a SQLAlchemy engine on psycopg2.

Chunk size: the pandas docs suggest none ("By default, all rows will be written at once");
1,000 rows a statement keeps each statement's SQL text, and its copy of the 12,000-character
values, bounded. Each `to_sql` call runs in one transaction and commits, users first, so the
addresses' user ids exist when they are written.

Trap (checked, no workaround needed on the path used here): pandas 3 stores text columns with
its `str` dtype, which keeps a missing value as NaN, so `None` is NaN inside the DataFrame,
and integer columns are `int64`. `to_sql` converts before calling the method: it turns each
column to Python objects (numpy int64 -> Python int) and replaces every NA with `None`, so
`data_iter` yields `None` and Python ints and NULL stays distinct from "". A callable that
reads the DataFrame itself (`table.frame`, `df.to_dict("records")`) gets NaN instead, which
psycopg2 sends as `'NaN'::float` and PostgreSQL silently stores as the *text* "NaN" in a text
column. And an integer column with a missing value becomes float64 in pandas (1 -> 1.0); the
pandas docs advise passing `dtype` for such columns.

Use it when the data already lives in a DataFrame; the DataFrame and SQLAlchemy layers cost
time and memory that a driver-level strategy does not pay.
"""

import pandas as pd
from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import insert

TAGS = {"library": "pandas", "api": "core", "technique": "on_conflict", "threaded": False}

CHUNKSIZE = 1_000


def insert_on_conflict_update(table, conn, keys, data_iter):
    """The `method` for `to_sql`: upsert one chunk by primary key `id`.

    `table` is pandas' SQLTable (`table.table` its SQLAlchemy Table), `keys` the column
    names, `data_iter` the chunk's rows (None for missing values)."""
    data = [dict(zip(keys, row)) for row in data_iter]
    stmt = insert(table.table).values(data)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={column: stmt.excluded[column] for column in keys if column != "id"},
    )
    return conn.execute(stmt).rowcount


def main(work):
    engine = create_engine(work.sqlalchemy_url("psycopg2"))
    try:
        for table in ("users", "addresses"):  # users first: addresses reference them
            frame = pd.DataFrame(work.rows(table), columns=list(work.columns[table]))
            frame.to_sql(table, engine, schema=work.schema, if_exists="append", index=False,
                         chunksize=CHUNKSIZE, method=insert_on_conflict_update)
    finally:
        engine.dispose()
