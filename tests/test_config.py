"""Settings precedence (CLI > environment > .env > .env_dist), validation and redaction; the one
table of settings (experiments/settings_table.py) and what follows from it."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest

from experiments import REPO_ROOT
from contract.envfile import read_env_file
from experiments.config import Settings, ignored_environment_note, load_settings
from experiments.run import rerun
from experiments.settings_table import SETTINGS, env_dist_text, options_table
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


# -- one table of settings (issue 20): .env_dist, docs/usage.md, Settings, the flags, --from

ENV_DIST = REPO_ROOT / ".env_dist"
USAGE = REPO_ROOT / "docs" / "usage.md"
OPTIONS_START = "<!-- options table: generated from experiments/settings_table.py by tests/test_config.py -->\n"
OPTIONS_END = "<!-- end of options table -->"


def test_env_dist_is_rendered_from_the_table():
    """`.env_dist` is the table's names, defaults and comments (UPDATE_DOCS=1 rewrites it)."""
    if os.environ.get("UPDATE_DOCS") == "1":
        ENV_DIST.write_text(env_dist_text(), encoding="utf-8")
    assert ENV_DIST.read_text(encoding="utf-8") == env_dist_text(), \
        ".env_dist and experiments/settings_table.py disagree: run the tests with UPDATE_DOCS=1"
    assert read_env_file(ENV_DIST) == {s.name: s.default for s in SETTINGS}


def test_usage_options_table_is_rendered_from_the_table():
    """docs/usage.md's options table (between its markers) is the table's (UPDATE_DOCS=1 rewrites it)."""
    page = USAGE.read_text(encoding="utf-8")
    start, end = page.index(OPTIONS_START) + len(OPTIONS_START), page.index(OPTIONS_END)
    if os.environ.get("UPDATE_DOCS") == "1":
        USAGE.write_text(page[:start] + options_table() + "\n" + page[end:], encoding="utf-8")
        page = USAGE.read_text(encoding="utf-8")
        start, end = page.index(OPTIONS_START) + len(OPTIONS_START), page.index(OPTIONS_END)
    assert page[start:end] == options_table() + "\n", \
        "docs/usage.md's options table and experiments/settings_table.py disagree: run the tests with UPDATE_DOCS=1"


def test_settings_has_one_attribute_per_setting_of_its_type():
    declared = [(f.name, f.type) for f in dataclasses.fields(Settings) if f.compare]
    assert declared == [(s.attribute, s.type) for s in SETTINGS]
    assert len({s.name for s in SETTINGS}) == len({s.attribute for s in SETTINGS}) == len(SETTINGS)
    assert len({s.flag for s in SETTINGS if s.flag}) == len([s for s in SETTINGS if s.flag])
    for setting in SETTINGS:  # every default parses, and a switch sets a value its parser takes
        setting.parse(setting.default)
        if setting.switch is not None:
            assert setting.parse(setting.switch) != setting.parse(setting.default), setting.name


def test_what_from_leaves_out_and_what_is_redacted_come_from_the_table(root):
    assert rerun.NOT_REPEATED == {"RESULTS_DIR", "DATABASE_URL", "SCHEMA", "KEEP_CAPTURES", "KEEP_SCHEMA",
                                   "ALLOW_CONCURRENT"}
    assert rerun.NOT_REPEATED == {s.name for s in SETTINGS if not s.repeated}
    usage = (REPO_ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    bullet = usage.split("- **Not repeated.**")[1].split("\n- ")[0]
    assert {s.flag for s in SETTINGS if not s.repeated} == set(re.findall(r"`(--[a-z-]+)`", bullet))
    settings = load_settings({"DATABASE_URL": "postgresql://bob:s3cret@db/app"}, environ={}, root=root)
    assert {name for name, (value, _) in settings.as_env().items() if "***" in value} == {
        s.name for s in SETTINGS if s.secret} == {"DATABASE_URL"}


def test_a_sweep_point_records_its_own_items_threads_and_strategies(root):
    """A grid point is a layer over the sweep's settings: its config.env says what it ran."""
    base = load_settings({"SEED": "3"}, environ={}, root=root)
    point = base.override("sweep", {"TOTAL_ITEMS": "1000", "TOTAL_THREADS": "2", "STRATEGIES": "a,b"})
    assert (point.items, point.threads, point.strategies, point.seed) == (1000, 2, "a,b", 3)
    env = point.as_env()
    assert env["TOTAL_ITEMS"] == ("1000", "from sweep") and env["STRATEGIES"] == ("a,b", "from sweep")
    assert env["SEED"] == ("3", "from cli") and base.items == 10_000
    with pytest.raises(UsageError, match=r"--items / TOTAL_ITEMS must be between 1 and .*\(set in sweep\)"):
        base.override("sweep", {"TOTAL_ITEMS": "0"})


SEED_STYLE = '''
from experiments.config import CONFIG

TOLD = (CONFIG.total_items, CONFIG["TOTAL_THREADS"], CONFIG.schema, CONFIG.phase)  # read at import


def main(total: int):
    assert TOLD == (total, 3, "told_schema", "update"), (TOLD, total)
'''


def test_the_worker_is_told_the_items_once_and_config_agrees(tmp_path):
    """argv is the one channel from the harness to the worker; the worker copies the values into
    its own environment, where a seed-style strategy's CONFIG reads them, over a stale variable."""
    strategy = tmp_path / "told.py"
    strategy.write_text(SEED_STYLE)
    result = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPSERT_BENCH_", "BENCH_"))}
    env.update(UPSERT_BENCH_TOTAL_ITEMS="999", UPSERT_BENCH_TOTAL_THREADS="9", BENCH_PHASE="insert",
               PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "experiments.passes.worker", "--strategy-file", str(strategy),
                           "--phase", "update", "--items", "4", "--threads", "3", "--result", str(result),
                           "--schema", "told_schema"], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert json.loads(result.read_text())["error"] == "", done.stderr
    assert done.returncode == 0


@pytest.mark.parametrize("text, expected", [
    ("", (None,)), ("direct", (None,)), ("5,direct,0.2,5", (None, 0.2, 5.0)), ("0", (0.0,)), ("1ms, 2", (1.0, 2.0)),
])
def test_latencies_parse_sorted_each_once(root, text, expected):
    settings = load_settings({"LATENCY": text}, environ={}, root=root)
    assert settings.latencies == expected
    assert settings.interleaves_latencies == (len(expected) > 1)


@pytest.mark.parametrize("setting, text, message", [
    ("LATENCY", "-1", "between 0 and 10,000 ms, got -1"), ("LATENCY", "far", "round-trip times in milliseconds"),
    ("LATENCY", "nan", "between 0 and"), ("TRANSPORT", "udp", "--transport / TRANSPORT must be socket or tcp"),
])
def test_bad_transport_and_latency_are_one_line_errors(root, setting, text, message):
    with pytest.raises(UsageError, match=message):
        load_settings({setting: text}, environ={}, root=root)
