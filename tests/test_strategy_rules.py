"""The rules every strategy file follows (docs/adding-a-strategy.md), checked without a database.

Each test names the rule it checks (`Rule Rn in docs/adding-a-strategy.md.` in its docstring),
and the page names the tests under each rule ("Checked by: ..."); one test below keeps the two
in step. The checks live in `contract/strategy_rules.py`, where discovery runs them too (a run
prints the rules a strategy breaks at its start); they read the files with `ast`, never import a
strategy, and run here on the whole catalogue and on the page's own example.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from contract.errors import UsageError
from contract.strategy_rules import (PER_FILE_CHECKS, RuleBroken, check_blank_line_after_title,
                                     check_closes_what_it_opens, check_connects_through_work, check_file_name,
                                     check_imports_only_helpers, check_library_is_imported, check_main,
                                     check_module_body, check_name_starts_with_library, check_phase_not_read,
                                     check_reference_only, check_streaming, check_tables_named_with_the_schema,
                                     check_tags_keys_and_types, check_tags_literal, check_threaded, library_problem,
                                     uses_sql_merge)
from contract.strategy_rules import check_technique as check_technique_statically
from contract.strategy_source import imported_modules, tree
from experiments import REPO_ROOT
from experiments.catalog import Strategy, discover, read_strategy
from experiments.run.console import print_broken_rules
from experiments.run.lock import LOCK_FILE_ENV
from experiments.run.preflight import check_version
from experiments.servers import Target

STRATEGIES_DIR = REPO_ROOT / "strategies"
PAGE = REPO_ROOT / "docs" / "adding-a-strategy.md"
CATALOGUE = {s.name: s for s in discover(STRATEGIES_DIR)}
NAMES = list(CATALOGUE)
HELPERS = sorted(p for p in STRATEGIES_DIR.glob("_*.py") if p.name != "__init__.py")


def check_library_is_known(library: str) -> None:
    """One entry in contract/libraries.py, installed, and declared in pyproject.toml."""
    problem = library_problem(library)
    assert not problem, problem


def check_technique(s: Strategy) -> None:
    """The static check, and the runner refusing a server older than 15 names exactly the
    strategies that run SQL MERGE."""
    check_technique_statically(s)
    old_server = Target("dsn", "dsn", "postgresql://x", "s", "14.9")
    with pytest.raises(UsageError) as refused:
        check_version(old_server, [s])
    named = f"({s.name})" in str(refused.value)
    assert named == uses_sql_merge(tree(s.path)), \
        f"{s.name}: a strategy running SQL MERGE has technique sql_merge or copy_merge, and only it"


# -- the tests, one or more per rule ----------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_file_name_is_a_lower_snake_case_identifier(name):
    """`strategies/<name>.py`, `<name>` in [a-z][a-z0-9_]*, not a keyword.
    Rule R1 in docs/adding-a-strategy.md."""
    check_file_name(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_name_starts_with_the_library(name):
    """`<library>_...`, so that a glob selects a library (a reference row is exempt).
    Rule R2 in docs/adding-a-strategy.md."""
    check_name_starts_with_library(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_docstring_has_a_blank_line_after_the_title(name):
    """Title line, blank line, description. Rule R4 in docs/adding-a-strategy.md."""
    check_blank_line_after_title(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_tags_is_one_literal_dict_assigned_at_top_level(name):
    """Discovery reads TAGS with ast.literal_eval. Rule R5 in docs/adding-a-strategy.md."""
    check_tags_literal(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_tags_keys_and_value_types(name):
    """Required and optional keys, their types, nothing else.
    Rules R6, R7 in docs/adding-a-strategy.md."""
    check_tags_keys_and_types(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_library_is_imported_by_the_strategy(name):
    """Rule R8 in docs/adding-a-strategy.md."""
    check_library_is_imported(CATALOGUE[name])


@pytest.mark.parametrize("library", sorted({s.tags.get("library", "") for s in CATALOGUE.values()}))
def test_every_library_is_known_to_the_harness(library):
    """describe's order, the comprehensibility proxy, pyproject.toml and the lock, REPORT.md's
    package list. Rule R8 in docs/adding-a-strategy.md."""
    check_library_is_known(library)


@pytest.mark.parametrize("name", NAMES)
def test_technique_is_snake_case_and_merge_is_tagged(name):
    """A strategy running SQL MERGE is named when a server older than 15 is refused.
    Rule R9 in docs/adding-a-strategy.md."""
    check_technique(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_main_takes_work(name):
    """Rule R10 in docs/adding-a-strategy.md."""
    check_main(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_module_body_does_no_work(name):
    """Importing happens before the clock starts. Rule R11 in docs/adding-a-strategy.md."""
    check_module_body(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_connects_only_through_work(name):
    """Rule R12 in docs/adding-a-strategy.md."""
    check_connects_through_work(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_strategies_close_what_they_open(name):
    """Statically: what opens a connection, engine or pool is in a `with` or has its close call.
    Rule R13 in docs/adding-a-strategy.md."""
    check_closes_what_it_opens(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_threaded_tag_matches_use_of_work_threads(name):
    """Rule R14 in docs/adding-a-strategy.md."""
    check_threaded(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_no_strategy_reads_the_phase(name):
    """Rule R16 in docs/adding-a-strategy.md."""
    check_phase_not_read(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_streaming_tag_matches_use_of_the_generators(name):
    """Rule R18 in docs/adding-a-strategy.md."""
    check_streaming(CATALOGUE[name])


@pytest.mark.parametrize("name", NAMES)
def test_only_reference_rows_use_the_staged_rows(name):
    """Rule R19 in docs/adding-a-strategy.md."""
    check_reference_only(CATALOGUE[name])


def test_helpers_are_shared_and_no_strategy_imports_another():
    """A `strategies/_*.py` helper is imported by two strategies or more; a strategy imports
    helpers, never another strategy. Rule R20 in docs/adding-a-strategy.md."""
    for strategy in CATALOGUE.values():
        check_imports_only_helpers(strategy)
    for helper in HELPERS:
        module = f"strategies.{helper.stem}"
        users = [s.name for s in CATALOGUE.values() if module in imported_modules(tree(s.path))]
        assert len(users) >= 2, f"{helper.name} is used by {users or 'no strategy'}: inline it there"


@pytest.mark.parametrize("name", NAMES)
def test_tables_are_named_with_the_run_schema(name):
    """Every table in the SQL a strategy writes is `work.table(...)` (temporary tables aside);
    SQLAlchemy engines translate the schema, pandas and asyncpg's COPY get it as a parameter.
    Rule R21 in docs/adding-a-strategy.md."""
    check_tables_named_with_the_schema(CATALOGUE[name])

# -- the page itself --------------------------------------------------------------------------

RULE_HEADING = re.compile(r"^### (R\d+)\. ", re.M)
CHECKED_BY = re.compile(r"^Checked by: (.+?)(?:\n\s*\n|\Z)", re.M | re.S)  # up to a blank line
TEST_REF = re.compile(r"`(tests/test_\w+\.py)::(\w+)`")
CITATION = re.compile(r"\bRules? (R\d+(?:(?:,\s*|\s+and\s+)R\d+)*)\s+in\s+docs/adding-a-strategy\.md")


def page_rules() -> dict[str, list[tuple[str, str]]]:
    """Rule id -> the (test file, test name) pairs its "Checked by:" lines name."""
    text = PAGE.read_text(encoding="utf-8")
    parts = RULE_HEADING.split(text)
    rules: dict[str, list[tuple[str, str]]] = {}
    for rule, body in zip(parts[1::2], parts[2::2]):
        assert rule not in rules, f"{rule} twice in {PAGE.name}"
        rules[rule] = [ref for line in CHECKED_BY.findall(body) for ref in TEST_REF.findall(line)]
    return rules


def cited_rules(docstring: str | None) -> set[str]:
    return {rule for match in CITATION.findall(docstring or "") for rule in re.findall(r"R\d+", match)}


def functions_in(test_file: Path) -> dict[str, ast.FunctionDef]:
    module = ast.parse(test_file.read_text(encoding="utf-8"))
    return {n.name: n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_page_and_tests_point_at_each_other():
    """Every rule on the page names at least one test; every named test exists and cites that rule
    in its docstring; every test citing a rule is named under it."""
    rules = page_rules()
    assert list(rules) == [f"R{n}" for n in range(1, len(rules) + 1)], f"rule ids out of order: {list(rules)}"
    for rule, refs in rules.items():
        assert refs, f"{rule} names no test (a 'Checked by: `tests/...::test_name`' line)"
        for file, name in refs:
            functions = functions_in(REPO_ROOT / file)
            assert name in functions, f"{rule}: {file}::{name} does not exist"
            assert rule in cited_rules(ast.get_docstring(functions[name])), \
                f"{rule}: {file}::{name}'s docstring lacks 'Rule {rule} in docs/adding-a-strategy.md.'"
    listed = {(rule, file, name) for rule, refs in rules.items() for file, name in refs}
    for test_file in sorted((REPO_ROOT / "tests").glob("test_*.py")):
        for name, function in functions_in(test_file).items():
            for rule in cited_rules(ast.get_docstring(function)):
                assert (rule, f"tests/{test_file.name}", name) in listed, \
                    f"tests/{test_file.name}::{name} cites {rule}, which does not name it"


def test_the_pages_example_follows_the_static_rules(tmp_path):
    """The example file on the page passes every check above (its run is in the page's text)."""
    text = PAGE.read_text(encoding="utf-8")
    name, source = re.search(r"^`strategies/(\w+)\.py`:\n\n```python\n(.*?)^```", text, re.M | re.S).groups()
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    example = read_strategy(path)
    assert not example.problem and example.tags
    assert "--strategies " + name in text  # the page's commands run the example's name
    for check in PER_FILE_CHECKS:
        check(example)
    check_technique(example)
    check_library_is_known(example.tags["library"])
    assert len(example.description) > 300  # as tests/test_strategies.py asks of the catalogue


# -- where the rules bite: discovery, and the start of a run --------------------------------

BREAKS_R16_AND_R21 = '''"""psycopg 3: a strategy that branches on the phase and names a bare table.

It writes the rows with one INSERT per table, but asks work.phase whether to bother with ON
CONFLICT (R16), and its statements name `users` and `addresses` without the run's schema
(R21): behind a pooler they would land in someone else's public schema. Here to be reported by
the checks a run makes at its start, and to run all the same.
"""

import psycopg

TAGS = {"library": "psycopg", "api": "driver", "technique": "on_conflict", "threaded": False}


def main(work):
    conflict = " ON CONFLICT (id) DO NOTHING" if work.phase == "update" else ""
    with psycopg.connect(work.dsn) as conn, conn.cursor() as cur:
        for table in ("users", "addresses"):
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)" + conflict, work.rows(table))
'''


def printed_rules(strategies: list[Strategy]) -> list[str]:
    screen = io.StringIO()
    print_broken_rules(Console(file=screen, width=80), strategies)
    return screen.getvalue().splitlines()


def test_every_check_names_a_rule_of_the_page():
    """Discovery's lines name a rule the page explains."""
    assert {check.rule for check in PER_FILE_CHECKS} <= set(page_rules())


def test_the_catalogue_breaks_no_rule_at_the_start_of_a_run():
    assert printed_rules(list(CATALOGUE.values())) == []


def test_a_run_prints_one_line_per_broken_rule_and_runs_the_strategy(tmp_path):
    """`make bench` on a folder holding a file that breaks R16 and R21 (two tables) prints one line
    for each rule, naming the file, and says the strategy runs anyway."""
    path = tmp_path / "psycopg_careless.py"
    path.write_text(BREAKS_R16_AND_R21, encoding="utf-8")
    (tmp_path / "broken_syntax.py").write_text("def main(work:\n", encoding="utf-8")
    lines = printed_rules(discover(tmp_path))  # the unreadable file is left to its own error
    assert [line.partition(":")[0] for line in lines] == [f"rule R16 broken by {path}", f"rule R21 broken by {path}"]
    assert all(line.endswith("; running it anyway") for line in lines), lines
    assert "work.phase" in lines[0] and "INSERT INTO" in lines[1] and "work.table(name)" in lines[1], lines


def test_a_check_raises_rule_broken_naming_the_rule_and_the_file(tmp_path):
    path = tmp_path / "psycopg_careless.py"
    path.write_text(BREAKS_R16_AND_R21.replace('TAGS = {"library"', 'TAGS = {"libary"'), encoding="utf-8")
    strategy = read_strategy(path)
    with pytest.raises(RuleBroken) as broken:
        check_tags_keys_and_types(strategy)
    assert (broken.value.rule, broken.value.path) == ("R7", path)
    assert str(broken.value).startswith(f"rule R7 broken by {path}: unknown TAGS keys ['libary']")


def test_the_run_command_prints_them_first(tmp_path):
    """`python -m experiments run` (what `make bench` runs) prints the lines before it needs a
    server: here it then stops, the DSN's port having nobody behind it."""
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "psycopg_careless.py").write_text(BREAKS_R16_AND_R21, encoding="utf-8")
    # no settings from the environment, but the suite's own lock file (not the machine's)
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPSERT_BENCH_") or k == LOCK_FILE_ENV}
    done = subprocess.run([sys.executable, "-m", "experiments", "run", "--strategies-dir", str(folder),
                           "--dsn", "postgresql://nobody@127.0.0.1:1/none", "--items", "10", "--repeat", "1",
                           "--no-memory", "--results-dir", str(tmp_path / "results")],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "cannot connect" in done.stderr, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("rule ")]
    assert [line.split(" broken by ")[0] for line in lines] == ["rule R16", "rule R21"], done.stdout
    assert all(line.endswith("; running it anyway") for line in lines), done.stdout

