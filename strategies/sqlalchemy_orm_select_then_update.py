"""SQLAlchemy ORM: load each chunk of 1,000 rows with one `SELECT ... IN`, update or add, flush.

The hand-written ORM upsert many applications grow: for every chunk of 1,000 ids, one
`select(User).where(User.id.in_(ids))` loads the rows that exist; the loaded objects get the new
values by attribute assignment (the unit of work turns changed attributes into an `UPDATE`) and
the missing ids become new objects passed to `Session.add()` (an `INSERT`). A `flush()` per chunk
sends the chunk's statements; users go first, then addresses, and one `commit()` ends it.
Compared with `Session.merge()` per row, the lookups cost one round trip per chunk instead of
one per row, and the flush batches the chunk's INSERTs into multi-row statements
(SQLAlchemy's "insertmanyvalues", 1,000 rows a statement by default).

Caveats: it is select-then-write, not atomic: a row inserted by another transaction between the
SELECT and the flush makes the INSERT fail with a unique violation (ON CONFLICT would update
it). The flushed UPDATEs go through the driver's `executemany()`; with psycopg2 and
SQLAlchemy's default `executemany_mode="values_only"` that is one round trip per updated row
(the psycopg2 dialect docs offer `executemany_mode="values_plus_batch"` to use psycopg2's
`execute_batch()` for UPDATEs, at the price of no row counts). Every loaded object carries the
ORM's bookkeeping, so the update pass holds a chunk of full objects and their loaded state.

Use it when ORM events, validators or relationships must see every change and the rows come in
batches; it keeps the ORM's semantics at a fraction of per-row `merge()`'s round trips.
"""

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "orm", "technique": "select_then_write", "threaded": False}

CHUNK = 1_000


def upsert(session, model, rows):
    """Update the rows of `model` that exist and add the others, CHUNK ids at a time."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids = [row["id"] for row in chunk]
        existing = {obj.id: obj for obj in session.scalars(select(model).where(model.id.in_(ids)))}
        for row in chunk:
            obj = existing.get(row["id"])
            if obj is None:
                session.add(model(**row))
            else:
                for key, value in row.items():
                    setattr(obj, key, value)  # an UPDATE at flush only for changed attributes
        session.flush()


def main(work):
    # the translate map names the mapped tables (no schema of their own) <work.schema>.<table>
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with Session(engine) as session:
            upsert(session, User, work.user_dicts())  # every user is flushed before any address
            upsert(session, Address, work.address_dicts())
            session.commit()
    finally:
        engine.dispose()
