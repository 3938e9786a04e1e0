"""Helper: fill a scratch table in the run's schema, leaving about 30 MB of dirty buffers."""

import psycopg
from psycopg import sql


def dirty(work, checkpoint: bool) -> None:
    table = sql.Identifier(work.schema, f"scratch_{'ckpt' if checkpoint else 'plain'}_{work.phase}")
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(sql.SQL("CREATE TABLE {} (id int, filler text)").format(table))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, repeat('x', 700) FROM generate_series(1, 40000) g")
                     .format(table))
        if checkpoint:
            conn.execute("CHECKPOINT")  # the checkpointer writes the dirty buffers, not this backend
