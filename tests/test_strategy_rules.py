"""The rules every strategy file follows (docs/adding-a-strategy.md), checked without a database.

Each test names the rule it checks (`Rule Rn in docs/adding-a-strategy.md.` in its docstring),
and the page names the tests under each rule ("Checked by: ..."); one test below keeps the two
in step. The checks read the files with `ast` (as discovery does), never import a strategy, and
run on the whole catalogue and on the page's own example.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import keyword
import re
from pathlib import Path

import pytest

from experiments import REPO_ROOT
from experiments.catalog import Strategy, discover, read_strategy

STRATEGIES_DIR = REPO_ROOT / "strategies"
PAGE = REPO_ROOT / "docs" / "adding-a-strategy.md"
CATALOGUE = {s.name: s for s in discover(STRATEGIES_DIR)}
NAMES = list(CATALOGUE)
HELPERS = sorted(p for p in STRATEGIES_DIR.glob("_*.py") if p.name != "__init__.py")

REQUIRED_TAGS = {"library": str, "api": str, "technique": str, "threaded": bool}
OPTIONAL_TAGS = {"reference": bool, "streaming": bool, "connections": int}
APIS = {"orm", "core", "driver", "server"}
SERVER_LIBRARY = "postgresql"  # the `library` of work done inside the server: no package
# what a strategy may take from the harness besides `work`
WORKLOAD_NAMES = {"COLUMNS", "COLUMN_TYPES", "USER_COLUMNS", "ADDRESS_COLUMNS"}
# calls that open a connection, an engine, a pool, a thread or a process, or run a loop
OPENERS = {"connect", "create_engine", "create_pool", "ThreadedConnectionPool", "SimpleConnectionPool",
           "Thread", "ThreadPoolExecutor", "ProcessPoolExecutor", "Process", "Popen", "run"}
WORK_LISTS = {"users", "addresses", "rows", "dicts", "user_dicts", "address_dicts"}
WORK_GENERATORS = {"iter_users", "iter_addresses", "iter_rows"}
WORK_REFERENCE_ONLY = {"staged_table"}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


# -- reading a strategy file ------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def tree(strategy: Strategy) -> ast.Module:
    return _tree(strategy.path)


def docstring_ids(module: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may mention anything)."""
    found = set()
    for node in ast.walk(module):
        if isinstance(node, (ast.Module, ast.ClassDef, *FUNCTIONS)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def code_strings(module: ast.AST) -> list[str]:
    skip = docstring_ids(module)
    return [n.value for n in ast.walk(module)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip]


def callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def work_attributes(module: ast.AST) -> set[str]:
    """Attributes read from a name `work` (the harness's Workload)."""
    return {n.attr for n in ast.walk(module)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "work"}


def imported_modules(module: ast.AST) -> set[str]:
    """Dotted names of every module imported (`from a.b import c` gives `a.b` and `a.b.c`)."""
    found = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def uses_sql_merge(module: ast.AST) -> bool:
    texts = any(re.search(r"\bMERGE\s+INTO\b", s, re.I) for s in code_strings(module))
    helper = any(isinstance(n, ast.ImportFrom) and n.module == "strategies._sql"
                 and any(a.name == "merge_statement" for a in n.names) for n in ast.walk(module))
    return texts or helper


# -- one check per rule, for any strategy file (the catalogue's and the page's example) ------

def check_file_name(s: Strategy) -> None:
    assert s.path.suffix == ".py" and s.path.stem == s.name
    assert re.fullmatch(r"[a-z][a-z0-9_]*", s.name), f"{s.name}: not lower_snake_case"
    assert s.name.isidentifier() and not keyword.iskeyword(s.name)


def check_name_starts_with_library(s: Strategy) -> None:
    if s.is_reference:
        return
    assert s.name.startswith(s.tags["library"] + "_"), (s.name, s.tags["library"])


def check_blank_line_after_title(s: Strategy) -> None:
    raw = ast.get_docstring(tree(s), clean=False) or ""
    lines = raw.split("\n")
    assert len(lines) >= 3 and lines[0].strip() == s.title and lines[1].strip() == "", \
        f"{s.name}: the docstring is a one-line title, a blank line, then the description"
    assert s.description


def check_tags_literal(s: Strategy) -> None:
    module = tree(s)
    assigned = [n for n in module.body if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "TAGS" for t in n.targets)]
    annotated = [n for n in module.body if isinstance(n, ast.AnnAssign)
                 and isinstance(n.target, ast.Name) and n.target.id == "TAGS"]
    assert not annotated, f"{s.name}: `TAGS: dict = ...` is not read by discovery; write `TAGS = {{...}}`"
    assert len(assigned) == 1, f"{s.name}: TAGS must be assigned exactly once, at the top level"
    node = assigned[0]
    assert len(node.targets) == 1 and isinstance(node.value, ast.Dict)
    assert isinstance(ast.literal_eval(node.value), dict)  # names, calls, f-strings raise here
    stores = [n for n in ast.walk(module) if isinstance(n, ast.Name) and n.id == "TAGS"
              and isinstance(n.ctx, (ast.Store, ast.Del))]
    changed = [n for n in ast.walk(module) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
               and n.value.id == "TAGS" and isinstance(n.ctx, (ast.Store, ast.Del))]
    mutated = [n for n in ast.walk(module) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "TAGS"]
    assert len(stores) == 1 and not changed and not mutated, f"{s.name}: TAGS is changed after its literal"


def check_tags_keys_and_types(s: Strategy) -> None:
    tags = s.tags
    unknown = set(tags) - set(REQUIRED_TAGS) - set(OPTIONAL_TAGS)
    assert not unknown, f"{s.name}: unknown TAGS keys {sorted(unknown)} (misspelt?)"
    missing = set(REQUIRED_TAGS) - set(tags)
    assert not missing, f"{s.name}: TAGS lacks {sorted(missing)}"
    for key, kind in {**REQUIRED_TAGS, **OPTIONAL_TAGS}.items():
        if key in tags:
            assert type(tags[key]) is kind, f"{s.name}: TAGS[{key!r}] must be a {kind.__name__}"
    assert tags["api"] in APIS, f"{s.name}: api {tags['api']!r} is not one of {sorted(APIS)}"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", tags["library"]), tags["library"]
    if "connections" in tags:
        assert tags["connections"] >= 1


def check_library_is_imported(s: Strategy) -> None:
    library = s.tags["library"]
    if library == SERVER_LIBRARY:
        return
    roots = {name.split(".")[0] for name in imported_modules(tree(s))}
    assert library in roots, f"{s.name}: library {library!r} but the file does not import {library}"


def check_library_is_known(library: str) -> None:
    """One entry in contract/libraries.py (which describe, comprehensibility, the figures and
    the report read), and a client library installed and declared in pyproject.toml."""
    from contract.libraries import BY_NAME

    assert library in BY_NAME, f"add a Library({library!r}, ...) entry to contract/libraries.py"
    entry = BY_NAME[library]
    if library == SERVER_LIBRARY:
        return
    assert entry.imports and entry.packages, f"give {library!r} its imports and packages in contract/libraries.py"
    for module in entry.imports:
        assert importlib.util.find_spec(module), \
            f"{module} is not installed: add it to pyproject.toml, then make lock"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.M | re.S).group(1)
    declared = {re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].lower()
                for dep in re.findall(r'^\s*"([^"]+)"', dependencies, re.M)}
    assert set(entry.packages) & declared, f"none of {entry.packages} is a dependency in pyproject.toml"


def check_technique(s: Strategy) -> None:
    from contract.errors import UsageError
    from experiments.run.runner import check_version
    from experiments.servers import Target

    assert re.fullmatch(r"[a-z][a-z0-9_]*", s.tags["technique"]), s.tags["technique"]
    old_server = Target("dsn", "dsn", "postgresql://x", "s", "14.9")
    with pytest.raises(UsageError) as refused:
        check_version(old_server, [s])
    named = f"({s.name})" in str(refused.value)
    assert named == uses_sql_merge(tree(s)), \
        f"{s.name}: a strategy running SQL MERGE has technique sql_merge or copy_merge, and only it"


def check_main(s: Strategy) -> None:
    module = tree(s)
    mains = [n for n in module.body if isinstance(n, FUNCTIONS) and n.name == "main"]
    assert len(mains) == 1, f"{s.name}: one top-level `def main(work)`"
    main = mains[0]
    assert isinstance(main, ast.FunctionDef), f"{s.name}: main must be a plain def (use asyncio.run inside)"
    args = main.args
    params = args.posonlyargs + args.args
    assert len(params) == 1 and not (args.vararg or args.kwonlyargs or args.kwarg or args.defaults), \
        f"{s.name}: main takes exactly one parameter"
    assert params[0].arg == "work", f"{s.name}: name main's parameter `work` (`total` means seed style)"
    annotation = params[0].annotation
    assert not (annotation is not None and ast.unparse(annotation) in ("int", "'int'")), s.name


def check_module_body(s: Strategy) -> None:
    module = tree(s)
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.FunctionDef,
               ast.AsyncFunctionDef, ast.ClassDef)
    runs_at_import: list[ast.AST] = []
    for number, node in enumerate(module.body):
        if number == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        assert isinstance(node, allowed), \
            f"{s.name} line {node.lineno}: at top level only imports, constants, TAGS, functions, classes"
        if isinstance(node, FUNCTIONS):
            runs_at_import += node.decorator_list + node.args.defaults + node.args.kw_defaults
        elif isinstance(node, ast.ClassDef):  # a class body runs at import, its methods do not
            runs_at_import += [n for n in node.body if not isinstance(n, FUNCTIONS)]
        else:
            runs_at_import.append(node)
    for part in runs_at_import:
        for call in (n for n in ast.walk(part or ast.Pass()) if isinstance(n, ast.Call)):
            assert callee(call) not in OPENERS, \
                f"{s.name} line {call.lineno}: {ast.unparse(call.func)}() runs at import, outside main()"


def check_connects_through_work(s: Strategy) -> None:
    module = tree(s)
    for text in code_strings(module):
        assert not re.search(r"postgres(ql)?(\+\w+)?://", text), f"{s.name}: a hard-coded DSN {text!r}"
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("environ", "getenv", "environb"), f"{s.name}: reads the environment"
        if isinstance(node, ast.Name):
            assert node.id not in ("environ", "getenv", "CONFIG"), f"{s.name}: reads {node.id}"
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "experiments" for a in node.names), \
                f"{s.name}: from the harness take only constants of experiments.workload"
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "experiments":
            names = {a.name for a in node.names}
            assert node.module == "experiments.workload" and names <= WORKLOAD_NAMES, \
                f"{s.name}: from the harness take only {sorted(WORKLOAD_NAMES)} of experiments.workload"
    assert work_attributes(module) & {"dsn", "sqlalchemy_url"}, f"{s.name}: connects without work.dsn"


def check_closes_what_it_opens(s: Strategy) -> None:
    module = tree(s)
    calls = [n for n in ast.walk(module) if isinstance(n, ast.Call)]
    called = {callee(c) for c in calls}
    in_with = {id(item.context_expr) for n in ast.walk(module) if isinstance(n, (ast.With, ast.AsyncWith))
               for item in n.items}
    for call in calls:
        name, where = callee(call), f"{s.name} line {call.lineno}: {ast.unparse(call.func)}()"
        if name == "create_engine":
            assert "dispose" in called, f"{where} needs engine.dispose() before main returns"
        elif name in ("ThreadedConnectionPool", "SimpleConnectionPool"):
            assert "closeall" in called, f"{where} needs pool.closeall()"
        elif name == "connect" and ast.unparse(call.func) == "psycopg2.connect":
            # psycopg2's `with conn:` ends the transaction, not the connection
            assert "close" in called, f"{where} needs conn.close()"
        elif name in ("connect", "create_pool"):
            assert id(call) in in_with or "close" in called, f"{where}: open it in a `with` or close it"


def check_threaded(s: Strategy) -> None:
    reads_threads = "threads" in work_attributes(tree(s))
    reads = "reads" if reads_threads else "never reads"
    assert reads_threads == s.tags["threaded"], \
        f"{s.name}: TAGS threaded is {s.tags['threaded']} but it {reads} work.threads"


def check_phase_not_read(s: Strategy) -> None:
    assert "phase" not in work_attributes(tree(s)), f"{s.name}: an upsert does not branch on work.phase"


def check_streaming(s: Strategy) -> None:
    used = work_attributes(tree(s))
    if s.tags.get("streaming"):
        assert used & WORK_GENERATORS, f"{s.name}: streaming, but no work.iter_users()/iter_addresses()"
        assert not used & WORK_LISTS, f"{s.name}: streaming, yet builds {sorted(used & WORK_LISTS)}"
    else:
        assert not used & WORK_GENERATORS, f"{s.name}: uses the generators, so TAGS needs 'streaming': True"


def check_reference_only(s: Strategy) -> None:
    used = work_attributes(tree(s)) & WORK_REFERENCE_ONLY
    assert not used or s.is_reference, f"{s.name}: {sorted(used)} are for reference rows only"


def check_imports_only_helpers(s: Strategy) -> None:
    for name in imported_modules(tree(s)):
        parts = name.split(".")
        if parts[0] == "strategies" and len(parts) > 1:
            assert parts[1].startswith("_"), f"{s.name}: imports strategy {parts[1]}; share code in a _helper"


PER_FILE_CHECKS = [check_file_name, check_name_starts_with_library, check_blank_line_after_title,
                   check_tags_literal, check_tags_keys_and_types, check_library_is_imported, check_technique,
                   check_main, check_module_body, check_connects_through_work, check_closes_what_it_opens,
                   check_threaded, check_phase_not_read, check_streaming, check_reference_only,
                   check_imports_only_helpers]


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
        users = [s.name for s in CATALOGUE.values() if module in imported_modules(tree(s))]
        assert len(users) >= 2, f"{helper.name} is used by {users or 'no strategy'}: inline it there"


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
    check_library_is_known(example.tags["library"])
    assert len(example.description) > 300  # as tests/test_strategies.py asks of the catalogue
