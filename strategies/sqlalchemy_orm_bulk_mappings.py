"""SQLAlchemy ORM: `bulk_update_mappings` for existing ids, `bulk_insert_mappings` for new ones.

The pre-2.0 way to upsert with the ORM's bulk API: find which ids exist (one
`SELECT id ... WHERE id IN (...)` per 1,000 ids), hand the rows of existing ids to
`Session.bulk_update_mappings()` (an executemany `UPDATE ... WHERE id = ...`) and the others to
`Session.bulk_insert_mappings()` (an executemany `INSERT`, batched by SQLAlchemy's
"insertmanyvalues" into multi-row statements of 1,000 rows). Both take plain dicts keyed by
attribute name and skip the unit of work, identity map and ORM events. Users go first, then
addresses; one commit.

Legacy: SQLAlchemy's docs mark both methods "a legacy feature as of the 2.0 series". They
share their implementation with what replaces them, the "ORM Bulk INSERT Statements"
(`session.execute(insert(User), list_of_dicts)`) and "ORM Bulk UPDATE by Primary Key"
(`session.execute(update(User), list_of_dicts)`) forms, which add RETURNING and session
synchronisation; for an upsert, the ORM "upsert" statements (`sqlalchemy_orm_bulk_upsert`).

Trap: `bulk_insert_mappings` leaves a column whose value is `None` out of the INSERT by default
(so server defaults can fire), and every different set of columns is a separate statement:
NULLs scattered through the rows break the batch into thousands of small INSERTs.
`render_nulls=True` (documented on the method) sends NULL explicitly and keeps one batch; it
is passed here. `bulk_update_mappings` has no such flag and always sets every given key,
NULLs included. Its executemany UPDATE goes through psycopg2's `executemany()`: one round trip
per row.

Caveats: select-then-write, not atomic: a row inserted by someone else between the SELECT and
the INSERT is a unique violation. The existence check costs a round trip per chunk.

Use it only in code that already has it; new code should use the ORM upsert statement.
"""

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "orm", "technique": "bulk_mappings", "threaded": False}

CHUNK = 1_000


def upsert(session, model, rows):
    """Split `rows` by whether their id exists; bulk-update those that do, bulk-insert the rest."""
    existing = set()
    for start in range(0, len(rows), CHUNK):
        ids = [row["id"] for row in rows[start:start + CHUNK]]
        existing.update(session.scalars(select(model.id).where(model.id.in_(ids))))
    session.bulk_update_mappings(model, [row for row in rows if row["id"] in existing])
    session.bulk_insert_mappings(model, [row for row in rows if row["id"] not in existing],
                                 render_nulls=True)  # NULL sent as NULL: one batch, not thousands


def main(work):
    # the translate map names the mapped tables (no schema of their own) <work.schema>.<table>
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with Session(engine) as session:
            upsert(session, User, work.user_dicts())  # users are written before any address
            upsert(session, Address, work.address_dicts())
            session.commit()
    finally:
        engine.dispose()
