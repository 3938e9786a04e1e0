"""SQLAlchemy Core: a commit queue, threads feeding single-row upserts to one committing connection.

The original project's "commit queue" (`SACommitQueue`), written cleanly. `work.threads`
producer threads each take a contiguous slice of the rows and turn every row into a statement:
one parameterised `text()` upsert per table (`INSERT ... VALUES (:id, :name, ...) ON CONFLICT
(id) DO UPDATE SET ...`) plus the row's parameter dict; values are always bound, never
formatted into the SQL. They `put()` the statements on a bounded, thread-safe `queue.Queue`.
ONE consumer thread owns the only database connection, executes the statements in arrival
order and commits every `COMMIT_EVERY` (1,000) statements and once more at `close()`. All users
are queued, executed and committed (one `SACommitQueue`, closed) before the address producers
start with a fresh queue on the same pooled connection, so every address finds its user.

Errors are never lost: a producer's exception comes back through `ThreadPoolExecutor.map()`;
the consumer's is kept, makes every later `put()` raise, and is raised again by `close()`. A
failed consumer keeps draining the queue without executing, so producers blocked on a full
queue cannot hang.

Caveats: the database sees one statement per row, one round trip each, from one connection:
the producer threads parallelise only the cheap part (building parameter dicts), and the GIL
serialises even that. Intermediate commits make the load non-atomic: a failure leaves the first
thousands of rows committed. Statements run in queue order, interleaved across producers, so
a table-level ordering such as "users before addresses" needs the explicit barrier used here.

Use it as the cautionary baseline it is: threads that feed one connection do not make a loop of
single-row upserts fast; batch the rows instead (`sqlalchemy_core_on_conflict`).
"""

import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from strategies._sql import upsert_statement

TAGS = {"library": "sqlalchemy", "api": "core", "technique": "commit_queue", "threaded": True,
        "connections": 1}

COMMIT_EVERY = 1_000  # statements per commit
QUEUE_SIZE = 2 * COMMIT_EVERY  # producers block when the consumer falls this far behind
_CLOSE = object()  # end-of-queue marker


class SACommitQueue:
    """Execute queued (statement, parameters) pairs on one Connection; commit every K of them."""

    def __init__(self, engine, commit_every=COMMIT_EVERY):
        self._engine = engine
        self._commit_every = commit_every
        self._queue = queue.Queue(maxsize=QUEUE_SIZE)
        self._error = None
        self._consumer = threading.Thread(target=self._consume, name="SACommitQueue")
        self._consumer.start()

    def put(self, statement, parameters):
        """Queue one statement (thread-safe); raises if the consumer has failed."""
        if self._error is not None:
            raise RuntimeError("the commit queue's consumer failed") from self._error
        self._queue.put((statement, parameters))

    def close(self):
        """Wait until every queued statement is executed and committed; re-raise a failure."""
        self._queue.put(_CLOSE)
        self._consumer.join()
        if self._error is not None:
            raise self._error

    def _consume(self):
        closed = False  # the close marker has been taken off the queue
        try:
            with self._engine.connect() as conn:
                pending = 0
                while (item := self._queue.get()) is not _CLOSE:
                    conn.execute(*item)
                    pending += 1
                    if pending == self._commit_every:
                        conn.commit()
                        pending = 0
                closed = True
                conn.commit()
        except BaseException as error:  # kept for put() and close(); nothing is lost silently
            self._error = error
            while not closed and self._queue.get() is not _CLOSE:  # unblock producers until close()
                pass


def upsert_table(engine, work, table):
    """Queue every row of `table` from work.threads producers; return once all are committed."""
    columns, rows = work.columns[table], work.rows(table)
    placeholders = ", ".join(f":{c}" for c in columns)  # text() bind parameters
    statement = text(upsert_statement(work.table(table), f"VALUES ({placeholders})"))
    bounds = [len(rows) * k // work.threads for k in range(work.threads + 1)]  # contiguous slices
    commit_queue = SACommitQueue(engine)

    def produce(start, stop):
        for row in rows[start:stop]:
            commit_queue.put(statement, dict(zip(columns, row)))  # bound values, never formatted

    try:
        with ThreadPoolExecutor(max_workers=work.threads) as producers:
            list(producers.map(produce, bounds[:-1], bounds[1:]))  # re-raises a producer's error
    finally:
        commit_queue.close()  # drain and commit, or raise the consumer's error


def main(work):
    # one connection: each queue's consumer checks it out in turn
    engine = create_engine(work.sqlalchemy_url("psycopg2"), pool_size=1, max_overflow=0)
    try:
        upsert_table(engine, work, "users")  # every user is committed before any address is sent
        upsert_table(engine, work, "addresses")
    finally:
        engine.dispose()
