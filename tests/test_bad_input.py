"""Bad input: one line on stderr, exit status 2, no traceback, nothing in results/ touched.

One table, `CASES`, drives the test: every row is a bad input (a flag, a setting, `.env`, the
environment, a DSN, strategy files, a command) and the needles its error line must contain.
The same rows, with what they actually printed, are `docs/bad-input.md`: `test_docs_table`
renders them and compares with the committed file (`UPDATE_DOCS=1` rewrites it instead).
"""

from __future__ import annotations

import os
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from conftest import bystander_server, copy_repo, run_cli  # noqa: F401 (a fixture)
from pooler import pgbouncer
from experiments import REPO_ROOT

SENTINEL = "20200101-000000-abcd"
PASSWORD = "hunter2"  # in every DSN below; must never reach stderr
UNREACHABLE = f"postgresql://nobody:{PASSWORD}@127.0.0.1:1/nothing"  # port 1: refused at once
DOCS = REPO_ROOT / "docs" / "bad-input.md"
TMP = "{tmp}"  # in argv and env values: the case's own scratch folder, shown as <tmp>


# a pooler's address and the run's schema change from run to run
POOLER_VARY = ((r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"), (r"port \d+", "port <port>"),
               (r"upsert_bench_\w+", "upsert_bench_<run_id>"))
POOLER = re.compile(r"\{pooler:(\w+)\}")


def _fake_binaries(tmp: Path) -> None:
    for name in ("initdb", "postgres"):
        (tmp / name).write_text("#!/bin/sh\nexit 1\n")
        (tmp / name).chmod(0o755)


def _a_file(tmp: Path) -> None:
    (tmp / "a-file").write_text("a file, not a folder\n")


def _no_strategies(tmp: Path) -> None:
    (tmp / "_helpers.py").write_text('"""Shared code: not a strategy."""\n')
    (tmp / "notes.txt").write_text("not a strategy either\n")


def _one_strategy_file(tmp: Path) -> None:
    fixture = REPO_ROOT / "tests" / "strategies_fixtures" / "ok_copy.py"
    (tmp / "ok_copy.py").write_text(fixture.read_text())


@dataclass(frozen=True)
class Case:
    label: str  # test id
    kind: str  # flag, setting, .env, environment, DSN, strategy files, command
    argv: tuple[str, ...]  # after `python -m experiments`; "{tmp}" is the case's scratch folder
    needles: tuple[str, ...]  # each must be in the error line
    dotenv: bytes | None = None  # content of .env in the repository
    dotenv_is_folder: bool = False
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[Path], None] | None = None  # fills the scratch folder
    note: str = ""  # what the docs say about the scratch folder or the setup
    # (pattern, replacement) for the parts of the line that depend on the Python version or
    # on installed libraries, so that the docs are the same everywhere
    vary: tuple[tuple[str, str], ...] = ()


CASES = [
    # -- flags argparse itself rejects
    Case("no-command", "command", (), ("the following arguments are required: command",)),
    Case("unknown-command", "command", ("bogus",), ("invalid choice: 'bogus'", "choose from"),
         vary=((r"\(choose from [^)]*\)", "(choose from <the commands>)"),)),
    Case("unrecognized-flag", "flag", ("run", "--itemz", "5"),
         ("unrecognized arguments: --itemz",)),
    Case("limit-not-a-number", "flag", ("print-rows", "--limit", "x"), ("--limit", "'x'")),
    Case("alpha-not-a-number", "flag", ("compare", "a", "b", "--alpha", "x"), ("--alpha", "'x'")),
    Case("analysis-items-0", "flag", ("aggregate", "--items", "0"), ("--items", "at least 1")),
    Case("since-not-a-date", "flag", ("figures", "--since", "not-a-date"),
         ("--since", "YYYY-MM-DD", "'not-a-date'")),
    # -- settings given as flags
    Case("items-0", "setting", ("run", "--items", "0"), ("--items", "between 1 and")),
    Case("items-negative", "setting", ("run", "--items", "-5"), ("--items", "got -5")),
    Case("items-ten", "setting", ("run", "--items", "ten"), ("--items", "whole number", "'ten'")),
    Case("threads-0", "setting", ("run", "--threads", "0"), ("--threads", "between 1 and")),
    Case("repeat-x", "setting", ("run", "--repeat", "x"), ("--repeat", "whole number")),
    Case("timeout-0", "setting", ("run", "--timeout", "0"), ("--timeout", "between 1 and")),
    Case("seed-x", "setting", ("run", "--seed", "x"), ("SEED", "whole number")),
    Case("sweep-items-0", "setting", ("sweep", "--items", "0,5"), ("--items", "at least 1")),
    Case("unknown-strategy", "setting", ("run", "--strategies", "no_such_strategy"),
         ("unknown strategy 'no_such_strategy'", "known are")),
    Case("unknown-glob", "setting", ("run", "--strategies", "psycopg2_*,typo*"),
         ("unknown strategy 'typo*'",)),
    Case("describe-unknown-strategy", "setting", ("describe", "--strategies", "nope"),
         ("unknown strategy 'nope'",)),
    Case("pg-99", "setting", ("run", "--pg", "99"), ("unknown --pg '99'", "16, 18")),
    Case("serve-pg-99", "setting", ("serve", "--pg", "99"), ("unknown --pg '99'",)),
    Case("pg-docker-99", "setting", ("run", "--pg", "docker:99"),
         ("unknown --pg docker:99", "pinned images")),
    # no Docker engine on any machine: the client is pointed at a socket that does not exist
    Case("pg-docker-no-engine", "setting", ("run", "--pg", "docker:16"),
         ("--pg docker:*", "none answers"),
         env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
         vary=((r"none answers \(.*\)$", "none answers (<the Docker client's reason>)"),)),
    Case("pg-bin-empty", "setting", ("run", "--pg-bin", TMP),
         ("--pg-bin", "no initdb and postgres"),
         note="`<tmp>` is an empty folder"),
    Case("pg-bin-broken", "setting", ("run", "--pg-bin", TMP), ("--pg-bin", "does not run"),
         prepare=_fake_binaries, note="`<tmp>` holds `initdb` and `postgres` scripts that exit 1"),
    Case("pg-setting-no-equals", "setting", ("run", "--pg-setting", "shared_buffers"),
         ("--pg-setting 'shared_buffers'", "name=value")),
    Case("transport-udp", "setting", ("run", "--transport", "udp"), ("--transport", "socket or tcp", "'udp'")),
    Case("latency-negative", "setting", ("run", "--latency", "-1"), ("--latency", "between 0 and", "got -1")),
    Case("latency-not-a-number", "setting", ("run", "--latency", "1,far"), ("--latency", "milliseconds", "'1,far'")),
    Case("phases-unknown", "setting", ("run", "--phases", "insert,upsert"), ("--phases", "insert, update, mixed, unchanged", "'insert,upsert'")),
    Case("hit-ratio-above-one", "setting", ("run", "--hit-ratio", "1.5"), ("--hit-ratio", "from 0 to 1", "'1.5'")),
    Case("duplicate-keys-above-100", "setting", ("run", "--duplicate-keys", "120"), ("--duplicate-keys", "from 0 to 100%", "'120'")),
    Case("table-rows-negative", "setting", ("run", "--table-rows", "-5"), ("--table-rows", "between 0 and", "got -5")),
    Case("contention-table-rows", "setting", ("run", "--contention", "--table-rows", "100"),
         ("--contention works on the plain tables only",)),
    Case("results-dir-uncreatable", "setting", ("run", "--results-dir", TMP + "/a-file/results"),
         ("cannot create the results folder", "a-file/results"), prepare=_a_file,
         note="`<tmp>/a-file` is a file"),
    # -- .env (bare setting names)
    Case("env-bad-line", ".env", ("run",), (".env line 2: expected KEY=value",),
         dotenv=b"TOTAL_ITEMS=5\nnot a setting line\n"),
    Case("env-not-utf8", ".env", ("run",), (".env is not UTF-8",), dotenv=b"TOTAL_ITEMS=\xff\n"),
    Case("env-bad-number", ".env", ("run",), ("TOTAL_ITEMS must be a whole number", "'many'"),
         dotenv=b"TOTAL_ITEMS=many\n"),
    Case("env-bad-flag", ".env", ("run",), ("KEEP_SCHEMA must be 1 or 0", "'maybe'"),
         dotenv=b"KEEP_SCHEMA=maybe\n"),
    Case("env-is-folder", ".env", ("run",), ("cannot read", ".env"), dotenv_is_folder=True),
    # -- the environment (UPSERT_BENCH_<NAME>)
    Case("environment-seed", "environment", ("run",), ("SEED", "'abc'"),
         env={"UPSERT_BENCH_SEED": "abc"}),
    Case("environment-items-0", "environment", ("run",), ("TOTAL_ITEMS", "got 0"),
         env={"UPSERT_BENCH_TOTAL_ITEMS": "0"}),
    Case("environment-pg-settings", "environment", ("run",), ("--pg-setting 'fsync'", "name=value"),
         env={"UPSERT_BENCH_PG_SETTINGS": "fsync"}),
    # -- DSNs
    Case("dsn-unreachable", "DSN", ("run", "--dsn", UNREACHABLE),
         ("cannot connect", "nobody:***@127.0.0.1:1")),
    Case("dsn-not-a-uri", "DSN", ("run", "--dsn", f"host=x password={PASSWORD} dbname=y"),
         ("postgresql:// URI", "password=***")),
    Case("environment-dsn-not-a-uri", "DSN", ("run",), ("postgresql:// URI", "'localhost:5432'"),
         env={"UPSERT_BENCH_DATABASE_URL": "localhost:5432"}),
    Case("dsn-bad-schema", "DSN", ("run", "--dsn", UNREACHABLE, "--schema", "Bad-Name"),
         ("--schema 'Bad-Name'",)),
    Case("dsn-pg-setting", "DSN", ("run", "--dsn", UNREACHABLE, "--pg-setting", "work_mem=64MB"),
         ("--pg-setting cannot be applied to a --dsn server",)),
    Case("dsn-latency", "DSN", ("run", "--dsn", UNREACHABLE, "--latency", "1"),
         ("--latency applies to servers the run starts",)),
    Case("dsn-transport-tcp", "DSN", ("run", "--dsn", UNREACHABLE, "--transport", "tcp"),
         ("--transport tcp applies to servers the run starts",)),
    # -- a pooler between us and the server (tests/pooler.py: PgBouncer in transaction pooling)
    Case("pooler-refuses-options", "pooler", ("run", "--dsn", "{pooler:refuses}", "--items", "50"),
         ("unsupported startup parameter: options", "pooler", "docs/usage.md"),
         note="PgBouncer with its default `ignore_startup_parameters`", vary=POOLER_VARY),
    Case("pooler-drops-options", "pooler", ("run", "--dsn", "{pooler:drops}", "--items", "50"),
         ("ignored the search_path option", "sessions start in schema public", "nothing was written"),
         note="PgBouncer with `ignore_startup_parameters = options`", vary=POOLER_VARY),
    Case("create-tables-unreachable", "DSN", ("create-tables", "--dsn", UNREACHABLE),
         ("cannot connect", "nobody:***@127.0.0.1:1")),
    Case("count-rows-no-server", "command", ("count-rows",), ("no server", "--dsn")),
    # -- strategy files
    Case("strategies-dir-missing", "strategy files", ("run", "--strategies-dir", TMP + "/nowhere"),
         ("strategies folder", "does not exist")),
    Case("strategies-dir-is-a-file", "strategy files",
         ("run", "--strategies-dir", TMP + "/ok_copy.py"),
         ("strategies folder", "is not a folder"), prepare=_one_strategy_file,
         note="`<tmp>/ok_copy.py` is a strategy file"),
    Case("strategies-dir-empty", "strategy files", ("describe", "--strategies-dir", TMP),
         ("no strategies in",), prepare=_no_strategies,
         note="`<tmp>` holds only `_helpers.py` and `notes.txt`"),
    # -- analysis commands
    Case("compare-unknown-runs", "command", ("compare", "nope1", "nope2"),
         ("no readable runs", "nope1")),
    Case("compare-no-runs", "command", ("compare", "a", "b", "--results-dir", TMP), ("no runs in",),
         note="`<tmp>` is an empty folder"),
    Case("figures-no-results-folder", "command", ("figures", "--results-dir", TMP + "/nowhere"),
         ("no results folder",)),
]


@dataclass(frozen=True)
class Outcome:
    line: str  # the error line, temporary paths normalised
    status: int


OUTCOMES: dict[str, Outcome] = {}  # label -> outcome, filled as the cases run


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """One copy of the project for every case (each undoes its .env; results/ is compared)."""
    root = copy_repo(tmp_path_factory.mktemp("bad-input") / "repo")
    run = root / "results" / SENTINEL
    run.mkdir()
    (run / "results.csv").write_text("run_id\nsentinel\n")
    return root


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else b"")
                  for p in (root / "results").rglob("*"))


def assert_one_line_error(done, *needles):
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for needle in needles:
        assert needle in lines[0]


def _normalise(text: str, repo: Path, tmp: Path) -> str:
    for path, shown in ((repo, "<repo>"), (tmp, "<tmp>"), (repo.parent, "<tmp>")):
        for spelling in {str(path.resolve()), str(path)}:
            text = text.replace(spelling, shown)
    return text


@pytest.fixture(scope="module")
def poolers(bystander_server):
    """PgBouncers in front of a server that is not ours: one refusing `options`, one dropping it."""
    with pgbouncer(bystander_server, "postgres", pool_mode="transaction") as refuses, \
            pgbouncer(bystander_server, "postgres", pool_mode="transaction", ignore=("options",)) as drops:
        yield {"refuses": refuses, "drops": drops}


def _dsns(case: Case, request) -> dict[str, str]:
    """The DSNs of the poolers a case names (started on first use), by name."""
    named = {m.group(1) for arg in case.argv for m in POOLER.finditer(arg)}
    return request.getfixturevalue("poolers") if named else {}


def run_case(case: Case, repo: Path, tmp: Path, request) -> Outcome:
    """Set the case up in `repo` (a copy of the project), run it, check it, undo its .env."""
    dsns = _dsns(case, request)
    tmp.mkdir(parents=True, exist_ok=True)
    if case.prepare:
        case.prepare(tmp)
    dotenv = repo / ".env"
    if case.dotenv_is_folder:
        dotenv.mkdir()
    elif case.dotenv is not None:
        dotenv.write_bytes(case.dotenv)
    try:
        before = snapshot(repo)
        argv = [POOLER.sub(lambda m: dsns[m.group(1)], arg.replace(TMP, str(tmp))) for arg in case.argv]
        env = {name: value.replace(TMP, str(tmp)) for name, value in case.env.items()}
        # temporary folders the command makes (and a refused run may leave) stay in the test's
        temp = tmp.parent / f"{tmp.name}-TMPDIR"
        temp.mkdir(exist_ok=True)
        done = run_cli(*argv, cwd=repo, env={"TMPDIR": str(temp), **env}, timeout=120)
        assert_one_line_error(done, *case.needles)
        assert snapshot(repo) == before
        assert PASSWORD not in done.stdout + done.stderr
    finally:
        if dotenv.is_dir():
            dotenv.rmdir()
        elif dotenv.exists():
            dotenv.unlink()
    line = _normalise(done.stderr.strip(), repo, tmp)
    for pattern, replacement in case.vary:
        line = re.sub(pattern, replacement, line)
    outcome = Outcome(line, done.returncode)
    OUTCOMES[case.label] = outcome
    return outcome


@pytest.mark.parametrize("case", [pytest.param(case, marks=[pytest.mark.db] if case.kind == "pooler" else [])
                                  for case in CASES], ids=[case.label for case in CASES])
def test_bad_input(repo, tmp_path, case, request):
    run_case(case, repo, tmp_path / "tmp", request)


def test_cases_cover_every_kind():
    assert len(CASES) >= 24
    assert len({case.label for case in CASES}) == len(CASES)
    assert {case.kind for case in CASES} == {"flag", "setting", ".env", "environment", "DSN",
                                             "pooler", "strategy files", "command"}


def test_malformed_tags_are_not_bad_input(repo, tmp_path):
    """A strategy file is read, never imported, when strategies are listed: TAGS that are not a
    literal dict (here an unhashable key) leave the strategy untagged instead of crashing."""
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "odd_tags.py").write_text(
        '"""Odd tags."""\nTAGS = {[1]: 2}\n\n\ndef main(total):\n    pass\n')
    done = run_cli("describe", "--strategies-dir", str(folder), cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "`odd_tags` — Odd tags." in done.stdout and "Traceback" not in done.stderr


# -- docs/bad-input.md ---------------------------------------------------------------------

INTRO = """\
# Bad input

Every bad input ends the same way: **one line** on stderr starting with `error: `, **exit
status 2**, no traceback, and nothing written to `results/`. These are the inputs the tests try,
and what each prints. `<repo>` is the project folder, `<tmp>` a temporary folder; other `<...>`
stand for text that depends on the Python version or the installed libraries.

This file is generated by `tests/test_bad_input.py` from the cases it runs (`CASES`); do not edit
it by hand. After changing a message or a case, regenerate it with

    UPDATE_DOCS=1 python -m pytest tests/test_bad_input.py

(with the test environment's Python, e.g. `.nox/tests/bin/python`); the test fails while this
file and the messages differ.
"""


def _code(text: str) -> str:
    """`text` as a Markdown code span inside a table cell."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _shell_word(arg: str) -> str:
    if POOLER.fullmatch(arg):
        return "postgresql://postgres:***@127.0.0.1:<port>/postgres"
    quoted = shlex.quote(arg.replace(TMP, "TMPDIR_PLACEHOLDER"))
    return quoted.replace("TMPDIR_PLACEHOLDER", "<tmp>")


def render_input(case: Case) -> str:
    assignments = [f"{name}={_shell_word(value)}" for name, value in case.env.items()]
    words = assignments + ["python", "-m", "experiments"] + [_shell_word(a) for a in case.argv]
    command = " ".join(words)
    parts = [_code(command)]
    if case.dotenv_is_folder:
        parts.append("with `.env` a folder")
    elif case.dotenv is not None:
        content = case.dotenv.decode("utf-8", "backslashreplace").rstrip("\n")
        parts.append("with `.env` = " + _code(content.replace("\n", "\\n")))
    if case.note:
        parts.append(f"({case.note})")
    return " ".join(parts)


def render(outcomes: dict[str, Outcome]) -> str:
    rows = ["| input | kind | what it prints | exit status |", "|---|---|---|---|"]
    for case in CASES:
        outcome = outcomes[case.label]
        cells = (render_input(case), case.kind, _code(outcome.line), str(outcome.status))
        rows.append("| " + " | ".join(cells) + " |")
    return INTRO + "\n" + f"{len(CASES)} inputs:\n\n" + "\n".join(rows) + "\n"


@pytest.mark.db  # its pooler rows start a server and PgBouncer
def test_docs_table(repo, tmp_path, request):
    """docs/bad-input.md is the table of CASES with what they printed (cases not run in this
    session, e.g. when only this test is selected, are run here)."""
    for number, case in enumerate(CASES):
        if case.label not in OUTCOMES:
            run_case(case, repo, tmp_path / f"case{number}" / "tmp", request)
    rendered = render(OUTCOMES)
    if os.environ.get("UPDATE_DOCS") == "1":
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(rendered, encoding="utf-8")
        return
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert current == rendered, textwrap.dedent(f"""\
        {DOCS.relative_to(REPO_ROOT)} is not the table of the bad inputs this test tried;
        regenerate it: UPDATE_DOCS=1 python -m pytest tests/test_bad_input.py""")
