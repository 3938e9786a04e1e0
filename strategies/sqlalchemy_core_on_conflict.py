"""SQLAlchemy Core: executemany `insert().on_conflict_do_update()`, 1,000 rows a statement.

`sqlalchemy.dialects.postgresql.insert(table).on_conflict_do_update(index_elements=["id"],
set_={column: stmt.excluded.column, ...})` executed by `Connection.execute(stmt, list_of_dicts)`:
an "executemany". SQLAlchemy 2.x's "insertmanyvalues" feature turns it into multi-row
`INSERT ... VALUES (...), (...), ... ON CONFLICT (id) DO UPDATE SET ...` statements, each
carrying `insertmanyvalues_page_size` rows: 1,000 by default, set per Engine with
`create_engine(..., insertmanyvalues_page_size=N)` or per statement with the execution option
of the same name ("Controlling the Batch Size" in the Core connections docs), and further capped
at 32,700 bound parameters a statement. `ON CONFLICT` makes each row an insert or an update
atomically, even against concurrent writers. The tables are the mapped classes' `Table`
objects (`User.__table__`): Core, no ORM involved.

Trap, worked around here: since SQLAlchemy 2.0.47 (issue #13130) the psycopg2 dialect does
**not** apply insertmanyvalues to an INSERT with an ON CONFLICT clause unless the statement
has RETURNING (the psycopg2 dialect docs: a "qualifying" statement "may not be a special
'extension' statement such as an 'ON CONFLICT' 'upsert' statement"). Without RETURNING the
list goes to psycopg2's `cursor.executemany()`, one statement and one round trip per row:
measured here 1.5 s instead of 0.65 s for 10,000 users. The insertmanyvalues docs ("Upsert
Support") say the upsert constructs "also support insertmanyvalues behaviors when they are
used with RETURNING", so the statement returns the ids (a small result, discarded). Core does
not drop `None` values from the parameter sets (the first dict fixes the column list), so NULLs
do not split the batch as they do in the ORM's bulk mode.

Caveats: a statement must not carry the same key twice ("ON CONFLICT DO UPDATE command cannot
affect row a second time"); rows are sent as bound parameters rendered client-side by
psycopg2, so every page is a new statement for the server to parse and plan.

Use it as the default bulk upsert from SQLAlchemy: one call per table, correct under
concurrency, no SQL text to maintain.
"""

from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import insert

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "core", "technique": "on_conflict", "threaded": False}


def upsert_statement(table):
    """`INSERT INTO table ... ON CONFLICT (id) DO UPDATE SET` every other column `= excluded.`"""
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != "id"},
    ).returning(table.c.id)  # RETURNING: without it psycopg2 gets one statement per row


def main(work):
    # insertmanyvalues_page_size=1000; the translate map qualifies the Tables with the run's schema
    engine = create_engine(work.sqlalchemy_url("psycopg2"),
                           execution_options={"schema_translate_map": {None: work.schema}})
    try:
        with engine.begin() as conn:  # one transaction, committed when the block ends
            conn.execute(upsert_statement(User.__table__), work.user_dicts())  # users first
            conn.execute(upsert_statement(Address.__table__), work.address_dicts())
    finally:
        engine.dispose()
