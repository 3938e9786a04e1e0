"""The small commands: describe, create-tables, count-rows, print-rows."""

import re

from experiments import REPO_ROOT
from experiments.catalog import discover

from conftest import run_cli


def test_describe_lists_every_strategy_grouped_by_library():
    """Every title is a heading of the catalogue. Rule R3 in docs/adding-a-strategy.md."""
    done = run_cli("describe")
    assert done.returncode == 0, done.stderr
    strategies = discover(REPO_ROOT / "strategies")
    for strategy in strategies:
        assert f"### `{strategy.name}` — {strategy.title}" in done.stdout
    assert re.search(r"^## psycopg2$", done.stdout, re.M) and re.search(r"^## sqlalchemy$", done.stdout, re.M)


def test_describe_accepts_the_original_snake_case_names():
    assert run_cli("describe").stdout == run_cli("describe", "--strategies", "*").stdout
    done = run_cli("create_tables", "--dsn", "postgresql://x@127.0.0.1:1/x")
    assert done.returncode == 2 and "cannot connect" in done.stderr


def test_create_count_print_rows(pg_dsn):
    schema = "cli_test"
    done = run_cli("create-tables", "--dsn", pg_dsn, "--schema", schema)
    assert done.returncode == 0, done.stderr
    counts = run_cli("count-rows", "--dsn", pg_dsn, "--schema", schema)
    assert counts.stdout.split() == ["users:", "0", "addresses:", "0"]
    printed = run_cli("print_rows", "--dsn", pg_dsn, "--schema", schema, "--limit", "3")
    assert "# users (first 3 by id)" in printed.stdout and "id\tname" in printed.stdout
    missing = run_cli("count-rows", "--dsn", pg_dsn, "--schema", "no_such_schema")
    assert missing.returncode == 2 and "run create-tables first" in missing.stderr
