"""Bad input: one line on stderr, exit status 2, no traceback, nothing in results/ touched."""

import pytest

from conftest import run_cli

SENTINEL = "20200101-000000-abcd"


@pytest.fixture
def repo(repo_copy):
    run = repo_copy / "results" / SENTINEL
    run.mkdir()
    (run / "results.csv").write_text("run_id\nsentinel\n")
    return repo_copy


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


@pytest.mark.parametrize("args, needles", [
    (["--items", "0"], ["--items", "between 1 and"]),
    (["--items", "-5"], ["--items", "got -5"]),
    (["--items", "ten"], ["--items", "whole number", "'ten'"]),
    (["--threads", "0"], ["--threads"]),
    (["--repeat", "x"], ["--repeat"]),
    (["--timeout", "0"], ["--timeout"]),
    (["--strategies", "no_such_strategy"], ["unknown strategy 'no_such_strategy'"]),
    (["--strategies", "psycopg2_*,typo*"], ["unknown strategy 'typo*'"]),
    (["--pg", "99"], ["unknown --pg '99'", "16, 18"]),
    (["--dsn", "postgresql://nobody:pw@127.0.0.1:1/nothing"], ["cannot connect", "nobody:***@127.0.0.1:1"]),
    (["--dsn", "host=x dbname=y"], ["postgresql:// URI"]),
    (["--itemz", "5"], ["unrecognized arguments: --itemz"]),
])
def test_bad_run_arguments(repo, args, needles):
    before = snapshot(repo)
    done = run_cli("run", *args, cwd=repo, timeout=120)
    assert_one_line_error(done, *needles)
    assert snapshot(repo) == before
    assert "pw@" not in done.stderr


@pytest.mark.parametrize("content, needle", [
    (b"TOTAL_ITEMS=5\nnot a setting line\n", ".env line 2: expected KEY=value"),
    (b"TOTAL_ITEMS=\xff\n", ".env is not UTF-8"),
    (b"TOTAL_ITEMS=many\n", "TOTAL_ITEMS must be a whole number"),
    (None, "cannot read"),  # .env is a folder
])
def test_unreadable_env_file(repo, content, needle):
    if content is None:
        (repo / ".env").mkdir()
    else:
        (repo / ".env").write_bytes(content)
    before = snapshot(repo)
    done = run_cli("run", cwd=repo, timeout=120)
    assert_one_line_error(done, needle)
    assert snapshot(repo) == before


def test_inspection_commands_without_a_server(repo):
    done = run_cli("count-rows", cwd=repo)
    assert_one_line_error(done, "no server", "--dsn")
