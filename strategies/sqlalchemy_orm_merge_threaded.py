"""SQLAlchemy ORM: `Session.merge()` for every row, in `work.threads` threads with a Session each.

`sqlalchemy_orm_merge` spread over threads. The ids are cut into `work.threads` contiguous
slices; each thread opens its own `Session` on one shared `Engine`, merges its slice of users,
flushes, merges the same slice of addresses and commits. The Engine's pool is sized to the
threads (`pool_size=work.threads, max_overflow=0`), so exactly one connection per thread is
opened. `merge()` still costs a `SELECT` per row plus the unit of work's `INSERT`/`UPDATE`, but
psycopg2 releases the GIL while it waits for the server, so the threads overlap their round
trips.

Caveats: SQLAlchemy's docs ("Is the Session thread-safe?") say a `Session` is a mutable,
stateful object representing a single transaction and must not be shared among concurrent
threads: one Session per thread, while the `Engine` and its pool are shared. The ORM's
per-object bookkeeping is pure Python and holds the GIL, so on a small machine the threads
mostly take turns; the gain is bounded by the time spent waiting on the server. Each thread
commits on its own, so a failure leaves the other slices written, and slices must not overlap
(merge is select-then-write: two sessions merging the same new key both see "missing" and one
fails with a unique violation). In the update pass an address may point at a user in another
slice; that user exists already, so the foreign key holds.

Use it only to see how far threads stretch an ORM merge loop; for bulk work a set-based upsert
is many times faster with one connection.
"""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from strategies._orm import Address, User

TAGS = {"library": "sqlalchemy", "api": "orm", "technique": "merge", "threaded": True}


def main(work):
    users, addresses = work.user_dicts(), work.address_dicts()
    # work.threads contiguous slices, none empty when items >= threads
    bounds = [len(users) * k // work.threads for k in range(work.threads + 1)]
    # one pooled connection per thread and never more: the pool blocks instead of overflowing
    # (the translate map names the mapped tables <work.schema>.<table>)
    engine = create_engine(work.sqlalchemy_url("psycopg2"), pool_size=work.threads, max_overflow=0,
                           execution_options={"schema_translate_map": {None: work.schema}})

    def merge_slice(start, stop):
        with Session(engine) as session:  # a Session per thread; only the Engine is shared
            for row in users[start:stop]:
                session.merge(User(**row))
            session.flush()  # this slice's users exist before its addresses refer to them
            for row in addresses[start:stop]:
                session.merge(Address(**row))
            session.commit()

    try:
        with ThreadPoolExecutor(max_workers=work.threads) as executor:
            # list() waits for every thread and re-raises the first error
            list(executor.map(merge_slice, bounds[:-1], bounds[1:]))
    finally:
        engine.dispose()
