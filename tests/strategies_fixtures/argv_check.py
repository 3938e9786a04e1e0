"""Test fixture: fails if the DSN's password shows in this process's argv or its parent's."""

import os

import psutil

from tests.strategies_fixtures.ok_copy import write_rows


def main(work):
    password = work.dsn.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert password, "this fixture expects a DSN with a password"
    me = psutil.Process(os.getpid())
    for proc in (me, me.parent()):
        if password in " ".join(proc.cmdline()):
            raise AssertionError(f"the DSN's password is in the argv of pid {proc.pid}")
    write_rows(work.dsn, {"users": work.users(), "addresses": work.addresses()})
