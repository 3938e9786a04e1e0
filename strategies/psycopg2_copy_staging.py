"""psycopg2: `COPY` (`copy_expert`) into a temporary staging table, then `INSERT ... SELECT ... ON CONFLICT`.

Rows stream to the server with `cursor.copy_expert("COPY stage (...) FROM STDIN (FORMAT
text)", file)` into a `TEMP` table created `LIKE` the target and dropped at commit (`ON COMMIT
DROP`). One set-based statement then upserts them all: `INSERT INTO t (...) SELECT ... FROM
stage ON CONFLICT (id) DO UPDATE SET col = EXCLUDED.col, ...`. COPY is the fastest way to move
rows into PostgreSQL, and the upsert runs entirely inside the server, atomic per row even
against concurrent writers. Users are staged and upserted before addresses, in one
transaction committed at the end.

The trap, and the workaround: unlike psycopg 3's `Copy.write_row()`, psycopg2 does not escape
anything on COPY. Its docs: "no adaptation is provided between Python and PostgreSQL types on
COPY: ... its format must be in the format accepted by PostgreSQL COPY command (data format,
escaped characters, etc)". A naive `"\\t".join(map(str, row))` turns `None` into the text
"None", the string `\\N` into NULL, the `\\n` in `C:\\new` into a newline, and splits values
and rows on tabs, newlines and carriage returns. `strategies/_psycopg2_copy.py` writes COPY's
text format properly: `None` -> `\\N`; backslash, tab, newline and carriage return escaped as
`\\\\`, `\\t`, `\\n`, `\\r` (backslash first). The empty string stays empty, distinct from
NULL. It also streams: its
`CopyTextReader` formats rows only as `copy_expert` calls `read(size)`, 64 KiB at a time here
(the default `size` is 8,192; a larger read means fewer calls from C into Python), so no
giant string is built.

Caveats: the staging rows must be unique by key (one statement cannot update a row twice);
the whole batch is one transaction, so one bad row fails all; temp tables bloat the catalogue
if created per small batch; the hand-written formatting handles `str`, `int` and `None` only.

Use it for large batches with psycopg2, with the escaping done right (or psycopg 3's COPY,
which does it for you).
"""

import psycopg2

from strategies._psycopg2_copy import CopyTextReader
from strategies._sql import column_list, upsert_statement

TAGS = {"library": "psycopg2", "api": "driver", "technique": "copy_staging", "threaded": False}

READ_SIZE = 64 * 1024  # characters per read() call that copy_expert makes


def main(work):
    conn = psycopg2.connect(work.dsn)
    try:
        with conn, conn.cursor() as cur:  # `with conn` commits at the end of the block
            for table in ("users", "addresses"):  # users first: addresses reference them
                stage = f"stage_{table}"
                cols = column_list(table)
                cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {work.table(table)}) ON COMMIT DROP")
                cur.copy_expert(f"COPY {stage} ({cols}) FROM STDIN (FORMAT text)",
                                CopyTextReader(work.rows(table)), size=READ_SIZE)
                cur.execute(upsert_statement(work.table(table), f"SELECT {cols} FROM {stage}"))
    finally:
        conn.close()
