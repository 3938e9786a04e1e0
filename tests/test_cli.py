"""The small commands: describe, create-tables, count-rows, print-rows; the run and sweep flags."""

import re

import pytest

from experiments import REPO_ROOT
from experiments.__main__ import build_parser
from experiments.catalog import discover
from experiments.settings_table import SETTINGS, run_flag_values

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


@pytest.mark.parametrize("argv, expected", [
    ([], {}),
    (["--items", "50", "--threads", "3", "--repeat", "auto", "--seed", "7", "--dsn", "postgresql://x@y/z"],
     {"TOTAL_ITEMS": "50", "TOTAL_THREADS": "3", "REPEAT": "auto", "SEED": "7", "DATABASE_URL": "postgresql://x@y/z"}),
    (["--pg-setting", "work_mem=8MB", "--pg-setting", "jit=off", "--no-memory", "--keep-schema",
      "--contention", "--keep-captures"],
     {"PG_SETTINGS": "work_mem=8MB;jit=off", "MEASURE_MEMORY": "0", "KEEP_SCHEMA": "1", "CONTENTION": "1",
      "KEEP_CAPTURES": "1"}),
])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_run_and_sweep_flags_map_to_settings(command, argv, expected):
    """Every setting with a flag is one of `run`'s and `sweep`'s; a flag's value is the setting's."""
    values = run_flag_values(build_parser().parse_args([command, *argv]))
    assert set(values) == {s.name for s in SETTINGS if s.flag}
    assert {name: value for name, value in values.items() if value is not None} == expected


def test_run_help_shows_every_flag_with_the_table_s_help():
    """`run --help` comes from the table: each flag, what it takes and its help (name, default)."""
    done = run_cli("run", "--help", env={"COLUMNS": "1000"})  # one line per flag: no wrapping
    assert done.returncode == 0, done.stderr
    for setting in SETTINGS:
        shown = f"{setting.flag} {setting.metavar}".strip()
        assert re.search(rf"^\s+{re.escape(shown)}\s+{re.escape(setting.flag_help().replace('%%', '%'))}$",
                         done.stdout, re.M), setting.name
