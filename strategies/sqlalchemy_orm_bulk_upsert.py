"""SQLAlchemy ORM: bulk `INSERT ... ON CONFLICT DO UPDATE` through `Session.execute()`.

SQLAlchemy 2.x's ORM bulk upsert: `sqlalchemy.dialects.postgresql.insert(User)` with
`.on_conflict_do_update(index_elements=[User.id], set_={column: stmt.excluded.column, ...})`,
passed to `Session.execute()` together with the list of row dicts. A list of parameter dicts
switches the ORM into "bulk INSERT mode" ("ORM Bulk INSERT Statements" in the ORM querying
guide), which skips the unit of work and identity map; the keys are ORM attribute names.
`ON CONFLICT` makes every row an insert or an update atomically, even against concurrent
writers, with no SELECT first.

Two traps, both documented, and both worked around here:

- **NULLs split the batch.** Bulk INSERT mode leaves a column whose value is `None` out of the
  INSERT (so server defaults can fire), and every different set of columns needs its own
  statement: on this workload 10,000 users became about 3,600 statements. Worse for an
  upsert, a column left out of the INSERT makes `excluded.column` its default, so a column
  with a server default would be updated to the default instead of to NULL. The execution
  option `render_nulls=True` ("Sending NULL values in ORM bulk INSERT statements", added in
  2.0.23) sends `None` as NULL and keeps one batch.
- **ON CONFLICT is not batched without RETURNING.** SQLAlchemy's "insertmanyvalues" rewrites
  an executemany INSERT into multi-row `INSERT ... VALUES (...), (...)` statements,
  `insertmanyvalues_page_size` = 1,000 rows each by default (a `create_engine()` parameter
  and an execution option). Since 2.0.47 (issue #13130) the psycopg2 dialect no longer does
  this for an INSERT with an ON CONFLICT clause unless the statement has RETURNING; without
  it the driver's `executemany()` sends one statement per row. The "Upsert Support" part of
  the insertmanyvalues docs says the upsert constructs use insertmanyvalues "when they are
  used with RETURNING", so the statement returns `User.id` (a small result, discarded).

The ORM docs' own "ORM upsert Statements" example passes the rows to `Insert.values()`
instead, rendering one statement per call with no insertmanyvalues batching (the caller must
chunk to stay under the parameter limit); measured here it was several times slower than the
bulk form, because each 1,000-row `values()` statement is a new, large construct to build and
compile.

Caveats: a statement must not carry the same key twice ("ON CONFLICT DO UPDATE command cannot
affect row a second time"); objects already in the Session are not refreshed unless you ask
(`populate_existing`); no ORM events or validators run.

Use it as the ORM's bulk upsert: it keeps mapped classes and attribute names, and skipping the
unit of work puts its cost in Core's range rather than `merge()`'s.
"""

from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "orm", "technique": "on_conflict", "threaded": False}


def upsert_statement(model):
    """`INSERT INTO <model's table> ... ON CONFLICT (id) DO UPDATE SET` every other column."""
    stmt = insert(model)
    columns = [c.name for c in model.__table__.columns if c.name != "id"]
    stmt = stmt.on_conflict_do_update(
        index_elements=[model.id], set_={name: stmt.excluded[name] for name in columns})
    # RETURNING lets insertmanyvalues batch the upsert; render_nulls keeps NULL rows in the batch
    return stmt.returning(model.id).execution_options(render_nulls=True)


def main(work):
    # the translate map names the mapped tables (no schema of their own) <work.schema>.<table>
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with Session(engine) as session:
            session.execute(upsert_statement(User), work.user_dicts())  # users before addresses
            session.execute(upsert_statement(Address), work.address_dicts())
            session.commit()
    finally:
        engine.dispose()
