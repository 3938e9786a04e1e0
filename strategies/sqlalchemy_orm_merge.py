"""SQLAlchemy ORM: `Session.merge()` for every row, one commit at the end.

The original project's approach, and what many applications do without thinking of it as
an upsert. `merge()` looks each object up by primary key — a `SELECT` per row, because the
object is not yet in the session's identity map — then either copies the given state onto the
loaded object (an `UPDATE` at flush) or adds a new one (an `INSERT` at flush). Autoflush
before each lookup turns the pending objects into statements as it goes. So it costs at least
one round trip per row, plus the ORM's per-object bookkeeping: the slowest reasonable way,
with the most memory, but it needs no SQL and keeps every ORM event and validation.

Caveat: merge is select-then-write, not atomic. Two sessions merging the same new key at the
same moment both see "missing" and one fails with a unique violation; ON CONFLICT does not.

Use it for a handful of rows in application code; never for bulk loads.
"""

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "orm", "technique": "merge", "threaded": False}


def main(work):
    # the translate map names the mapped tables (no schema of their own) <work.schema>.<table>
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with Session(engine) as session:
            for row in work.user_dicts():
                session.merge(User(**row))
            session.flush()  # every user exists before an address refers to it
            for row in work.address_dicts():
                session.merge(Address(**row))
            session.commit()
    finally:
        engine.dispose()
