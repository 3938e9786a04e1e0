"""The comprehensibility proxy of a small file, as counted by hand."""

from experiments.comprehensibility import measure_source

SMALL = '''"""A small strategy whose measures are easy to count by hand."""

import psycopg

from strategies._sql import upsert_statement


def main(work):
    # one connection, both tables
    with psycopg.connect(work.dsn) as conn:
        for table in ("users", "addresses"):
            if table:
                conn.execute(upsert_statement(table, "VALUES (1)"))
'''


def test_small_file_by_hand():
    measured = measure_source(SMALL)
    # code lines: import, from-import, def, with, for, if, conn.execute (docstring, comment, blanks out)
    assert measured.loc == 7
    # main: 1 + for + if
    assert measured.complexity == 3
    # psycopg.connect and .execute; work.* (the harness) does not count
    assert measured.apis == 2
    assert measured.raw_sql is True  # it builds SQL text with the _sql helpers


def test_orm_code_is_not_raw_sql_even_with_sql_in_docstrings():
    source = '''"""Writes INSERT INTO users ... ON CONFLICT, in words only."""
from sqlalchemy.orm import Session


def main(work):
    """Also SELECT * FROM users in a docstring."""
    with Session(work.engine) as session:
        session.merge(work)
'''
    measured = measure_source(source)
    assert measured.raw_sql is False
    assert measured.apis == 2  # Session, merge
