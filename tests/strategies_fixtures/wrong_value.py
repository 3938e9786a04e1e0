"""Test fixture: writes every row, but one character of one value is wrong."""

from tests.strategies_fixtures.ok_copy import write_rows


def main(work):
    users = list(work.users())
    uid, name, email, bio, karma = users[6]
    users[6] = (uid, name[:-1] + "X", email, bio, karma)
    write_rows(work.dsn, {"users": users, "addresses": work.addresses()})
