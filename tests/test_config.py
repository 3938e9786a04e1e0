"""Settings precedence (CLI > environment > .env > .env_dist), validation and redaction."""

import pytest

from experiments import REPO_ROOT
from contract.envfile import read_env_file
from experiments.config import ignored_environment_note, load_settings
from experiments.urls import redact_dsn
from contract.errors import UsageError


@pytest.fixture
def root(tmp_path):
    (tmp_path / ".env_dist").write_text((REPO_ROOT / ".env_dist").read_text())
    return tmp_path


def test_defaults_come_from_env_dist(root):
    settings = load_settings({}, environ={}, root=root)
    assert (settings.items, settings.threads) == (10_000, 4)
    assert settings.sources["TOTAL_ITEMS"] == ".env_dist"


def test_precedence_cli_over_environment_over_dotenv(root):
    (root / ".env").write_text("TOTAL_ITEMS=20\nTOTAL_THREADS=3\nREPEAT=7\n")
    env = {"UPSERT_BENCH_TOTAL_ITEMS": "30", "UPSERT_BENCH_TOTAL_THREADS": "5"}
    settings = load_settings({"TOTAL_ITEMS": "40"}, environ=env, root=root)
    assert (settings.items, settings.threads, settings.repeat) == (40, 5, 7)
    assert settings.sources["TOTAL_ITEMS"] == "cli"
    assert settings.sources["TOTAL_THREADS"] == "environment"
    assert settings.sources["REPEAT"] == ".env"


@pytest.mark.parametrize("value, message", [
    ("0", "between 1 and"), ("-5", "between 1 and"), ("ten", "whole number"), ("1.5", "whole number"),
])
def test_bad_items_are_one_line_errors(root, value, message):
    with pytest.raises(UsageError, match=message):
        load_settings({"TOTAL_ITEMS": value}, environ={}, root=root)


def test_env_file_errors_name_the_line(root):
    (root / ".env").write_text("TOTAL_ITEMS=5\nthis is not a setting\n")
    with pytest.raises(UsageError, match=r"\.env line 2: expected KEY=value"):
        load_settings({}, environ={}, root=root)
    (root / ".env").write_bytes(b"TOTAL_ITEMS=\xff\xfe\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_settings({}, environ={}, root=root)


def test_env_file_quotes_and_comments(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# comment\nA='x y'\nB=\"z\"\nexport C=3  # trailing\nD=\n")
    assert read_env_file(path) == {"A": "x y", "B": "z", "C": "3", "D": ""}
    path.write_text("E=  # from .env_dist\nF='a #b'  # note\nG=\"q\"x\n")
    assert read_env_file(path) == {"E": "", "F": "a #b", "G": '"q"x'}


def test_config_env_round_trips_as_a_dotenv(root):
    """A run folder's config.env, copied to .env, gives the run's settings back (issue 13)."""
    cli = {"TOTAL_ITEMS": "1234", "PG_SETTINGS": "work_mem=8MB;jit=off", "STRATEGIES": "a,b",
           "SEED": "77", "BUDGET": "90"}
    settings = load_settings(cli, environ={}, root=root)
    (root / ".env").write_text("\n".join(settings.as_env_lines({"SEED": "77"})) + "\n")
    again = load_settings({}, environ={}, root=root)
    assert {k: v for k, (v, _) in again.as_env().items()} == {k: v for k, (v, _) in settings.as_env().items()}
    assert again.items == 1234 and again.seed == 77 and again.strategies == settings.strategies
    assert "" in {v for v, _ in again.as_env().values()}  # empty values stay empty, not '# from ...'


@pytest.mark.parametrize("dsn, expected", [
    ("postgresql://bob:s3cret@db:5432/app", "postgresql://bob:***@db:5432/app"),
    ("postgresql://bob@db/app?password=s3cret&sslmode=require", "postgresql://bob@db/app?password=***&sslmode=require"),
    ("host=db user=bob password=s3cret dbname=app", "host=db user=bob password=*** dbname=app"),
    ("postgresql://bob@/app?host=/tmp/sock", "postgresql://bob@/app?host=/tmp/sock"),
])
def test_redact_dsn(dsn, expected):
    assert redact_dsn(dsn) == expected
    assert "s3cret" not in redact_dsn(dsn)


def test_bare_names_in_the_environment_change_nothing_and_are_named(root):
    """A stale `export PG=15` or `SEED=1` in a shell must not silently change a run (issue 10)."""
    env = {"PG": "15", "SEED": "1", "REPEAT": "9", "DATABASE_URL": "postgresql://x@y/z",
           "UPSERT_BENCH_TIMEOUT": "77"}
    settings = load_settings({}, environ=env, root=root)
    assert (settings.pg, settings.seed, settings.repeat, settings.database_url) == ("newest", None, None, "")
    assert settings.timeout == 77 and settings.sources["TIMEOUT"] == "environment"
    assert settings.ignored_environment == ("DATABASE_URL", "PG", "REPEAT", "SEED")
    note = ignored_environment_note(settings)
    assert "DATABASE_URL, PG, REPEAT, SEED" in note and "UPSERT_BENCH_DATABASE_URL" in note
    assert ignored_environment_note(load_settings({}, environ={}, root=root)) == ""
