"""Test fixture: drops a duplicated key's later rows (keeps the first, stale, copy), then upserts:
completes without an error and leaves the wrong values, which the value check must report."""

from tests.strategies_fixtures.ok_copy import write_rows

TAGS = {"library": "psycopg", "technique": "copy_staging", "threaded": False}


def first_of_each_key(rows):
    seen, kept = set(), []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            kept.append(row)
    return kept


def main(work):
    write_rows(work.dsn, {"users": first_of_each_key(work.users()),
                          "addresses": first_of_each_key(work.addresses())})
