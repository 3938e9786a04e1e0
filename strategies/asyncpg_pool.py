"""asyncpg: a pool of `work.threads` connections, one task per slice, each with `executemany()`.

`asyncpg.create_pool(min_size=work.threads, max_size=work.threads)` opens exactly
`work.threads` connections up front (the pool is initialised with `min_size` connections and
may never exceed `max_size`). The rows are cut into `work.threads` contiguous slices of ids;
`asyncio.gather()` runs one task per slice, and each task acquires its own pool connection and,
in one transaction, upserts its slice of users and then the same slice of addresses with
`executemany()` and `INSERT ... ON CONFLICT (id) DO UPDATE`. There are no threads: one event
loop interleaves the tasks, and while one waits for the server the others send, so the server
works on several backends at once.

Why `executemany()` and not unnest: it is the same statement as `asyncpg_executemany`, so the
pair isolates what concurrency alone buys. Its server-side cost is per row (one execution each),
which is exactly the work several backends can share; a set-based unnest statement already
leaves the client little to overlap.

Addresses and foreign keys: in the update phase address *i* moves to user *i + 1*, which for a
slice's last address belongs to the next slice. That user already exists (the update phase
starts with every user present; the foreign-key check's `KEY SHARE` row lock does not conflict
with the other task's update, which changes no key), and in the insert phase every address
points into its own slice, written earlier in the same transaction. No task waits for another.

Caveats: slices must not overlap (two transactions upserting the same keys in different orders
can deadlock); the event loop is a single thread, so Python-side encoding does not run in
parallel, only the server work does; each task commits on its own, so a failure leaves the
other slices written. asyncpg honours the DSN's `options=-csearch_path=...` by passing query
options it does not recognise as server settings.

Use it in asyncio services that already hold a pool and must write large batches that split
cleanly by key.
"""

import asyncio

import asyncpg

from strategies._sql import placeholders, upsert_statement

TAGS = {"library": "asyncpg", "api": "driver", "technique": "on_conflict", "threaded": True}


def statement(work, table):
    return upsert_statement(work.table(table), f"VALUES {placeholders(table, '$')}")


async def upsert(work):
    users, addresses = work.users(), work.addresses()
    size = -(-len(users) // work.threads)  # ceiling division: every row in exactly one slice
    users_sql, addresses_sql = statement(work, "users"), statement(work, "addresses")

    async with asyncpg.create_pool(work.dsn, min_size=work.threads, max_size=work.threads) as pool:

        async def upsert_slice(start):
            async with pool.acquire() as conn, conn.transaction():
                await conn.executemany(users_sql, users[start:start + size])
                await conn.executemany(addresses_sql, addresses[start:start + size])

        await asyncio.gather(*(upsert_slice(start) for start in range(0, len(users), size)))


def main(work):
    asyncio.run(upsert(work))
