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
from experiments.workload import COLUMNS, PHASES, stage_table

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


# -- R21: the SQL text a strategy sends, as far as the file tells ------------------------------
#
# Every string a strategy builds (constants, f-strings, `+`, `%`, `.format()`, psycopg's
# `sql.SQL`/`sql.Identifier`, SQLAlchemy's `text()`, and the `strategies._*` helpers, followed into
# with the call's arguments) is rendered to the texts it may be: `work.schema` as SCHEMA,
# `work.table(...)` / `work.staged_table(...)` as `SCHEMA.ANY`, a name as what is assigned to it
# in its scope (a loop over literals: each literal), and what the file does not tell (a parameter,
# any other call) as ANY. A text fails when it names one of the run's tables without SCHEMA in
# front, or when the relation after INTO, FROM, LIKE, ... could be one.

SCHEMA = "\x01"  # `work.schema`
ANY = "\x02"  # a part the file does not tell: it could be anything
RUN_TABLES = {*COLUMNS, *(stage_table(phase, table) for phase in PHASES for table in COLUMNS)}
RUN_TABLE_WORD = re.compile(rf"(?<![\w$])(?:{'|'.join(sorted(RUN_TABLES))})(?![\w$])")
RELATION = re.compile(r"(?:\b(?:INTO|UPDATE|FROM|JOIN|USING|COPY|TABLE|TRUNCATE|ONLY|LOCK)|[(,]\s*LIKE)"
                      r"\s+([^\s(),;]+)", re.I)
MAX_TEXTS = 64  # alternatives kept per expression; more become ANY
SCOPES = (*FUNCTIONS, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
TEXT_CALLS = {"format", "SQL", "Identifier", "text"}
TEXT_ONLY = {"sqlalchemy.create_engine", "sqlalchemy.text"}  # SQLAlchemy without Table-built SQL


def qualified(name: str) -> bool:
    return name.startswith(SCHEMA + ".")


def could_be_run_table(name: str) -> bool:
    """A relation as rendered (ANY for unknown parts) that may be one of the run's tables."""
    if qualified(name):
        return False
    pattern = "".join(".*" if c == ANY else re.escape(c) for c in name.rpartition(".")[2].strip('"'))
    return any(re.fullmatch(pattern, table) for table in RUN_TABLES)


def unqualified_tables(text: str) -> list[str]:
    """The run's tables `text` names without the run's schema in front."""
    found = [m.group() for m in RUN_TABLE_WORD.finditer(text) if not text[:m.start()].endswith(SCHEMA + ".")]
    return found + [m.group(1) for m in RELATION.finditer(text) if ANY in m.group(1) and could_be_run_table(m.group(1))]


def readable(text: str) -> str:
    return text.replace(SCHEMA, "{work.schema}").replace(ANY, "{?}")


def concatenations(parts: list[set[str]]) -> set[str]:
    texts = {""}
    for part in parts:
        texts = {a + b for a in texts for b in part}
        if len(texts) > MAX_TEXTS:
            return {ANY}
    return texts


def substitute(templates: set[str], args: list[set[str]], keywords: dict[str, set[str]], percent: bool) -> set[str]:
    """`template % args` (percent) or `template.format(*args, **keywords)`, for every template."""
    field = r"(%(?:\((\w+)\))?[sdr])" if percent else r"(\{([^{}]*)\})"
    texts = set()
    for template in templates:
        pieces, parts, position = re.split(field, template), [], 0
        for i in range(0, len(pieces), 3):
            parts.append({pieces[i]})
            if i + 1 < len(pieces):
                key = re.split(r"[!:.\[]", pieces[i + 2] or "")[0]
                if key.isdigit():
                    parts.append(args[int(key)] if int(key) < len(args) else {ANY})
                elif key:
                    parts.append(keywords.get(key, {ANY}))
                else:
                    parts.append(args[position] if position < len(args) else {ANY})
                    position += 1
        texts |= concatenations(parts)
    return texts


class SqlTexts:
    """The texts the string expressions of one file (a strategy or a helper) may produce."""

    def __init__(self, path: Path):
        self.path, self.module = path, _tree(path)
        self.parent = {child: node for node in ast.walk(self.module) for child in ast.iter_child_nodes(node)}
        self.functions = {n.name: n for n in self.module.body if isinstance(n, FUNCTIONS)}
        self.helpers = {alias.asname or alias.name: (node.module, alias.name) for node in self.module.body
                        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("strategies._")
                        for alias in node.names}

    def roots(self) -> list[ast.AST]:
        """The string expressions that no larger one contains (docstrings left out)."""
        skip, found = docstring_ids(self.module), []
        for node in ast.walk(self.module):
            up = self.parent.get(node)
            while isinstance(up, (ast.FormattedValue, ast.keyword)):
                up = self.parent.get(up)
            if id(node) not in skip and self.is_text(node) and not (up and self.is_text(up)):
                found.append(node)
        return found

    def is_text(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Constant) and isinstance(node.value, str) or isinstance(node, ast.JoinedStr)
                or isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod))
                or isinstance(node, ast.Call) and (callee(node) in TEXT_CALLS or self.helper(node) is not None))

    def helper(self, call: ast.Call) -> tuple[SqlTexts, ast.FunctionDef] | None:
        """The `strategies._*` function `call` calls (inside a helper: its own functions too)."""
        name = call.func.id if isinstance(call.func, ast.Name) else None
        if name in self.helpers:
            module, function = self.helpers[name]
            path = REPO_ROOT / (module.replace(".", "/") + ".py")
            other = sql_texts(path) if path.is_file() else None
            return (other, other.functions[function]) if other and function in other.functions else None
        if self.path.name.startswith("_") and name in self.functions:
            return self, self.functions[name]
        return None

    def assigned(self, scope: ast.AST, name: str) -> list[ast.AST | None]:
        """What `scope` itself (not a scope inside it) assigns to `name`; None: not told."""
        values: list[ast.AST | None] = []

        def bind(target: ast.AST, value: ast.AST | None) -> None:
            if isinstance(target, ast.Name) and target.id == name:
                values.append(value)
            elif isinstance(target, (ast.Tuple, ast.List)):
                same = isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
                for i, element in enumerate(target.elts):
                    bind(element, value.elts[i] if same else None)
            elif isinstance(target, ast.Starred):
                bind(target.value, None)

        def visit(node: ast.AST) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (*SCOPES, ast.ClassDef)):
                    continue
                if isinstance(child, ast.Assign):
                    for target in child.targets:
                        bind(target, child.value)
                elif isinstance(child, (ast.AnnAssign, ast.NamedExpr)):
                    bind(child.target, child.value)
                elif isinstance(child, ast.AugAssign):
                    bind(child.target, None)
                elif isinstance(child, (ast.For, ast.AsyncFor)):
                    literal = isinstance(child.iter, (ast.Tuple, ast.List, ast.Set))
                    for item in child.iter.elts if literal else [None]:
                        bind(child.target, item)
                elif isinstance(child, ast.withitem) and child.optional_vars:
                    bind(child.optional_vars, None)
                visit(child)

        visit(scope)
        return values

    def lookup(self, node: ast.Name, bound: dict, depth: int) -> set[str]:
        scope = self.parent.get(node)
        while scope is not None:
            if (id(scope), node.id) in bound:  # a parameter of a helper being followed
                return bound[(id(scope), node.id)]
            if isinstance(scope, (*FUNCTIONS, ast.Lambda)):
                args = scope.args
                if node.id in {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg,
                                                args.kwarg] if a}:
                    return {ANY}
            if isinstance(scope, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                if any(isinstance(n, ast.Name) and n.id == node.id for g in scope.generators for n in ast.walk(g.target)):
                    return {ANY}
            elif isinstance(scope, (*FUNCTIONS, ast.Module)) and (values := self.assigned(scope, node.id)):
                return set().union(*(self.render(v, bound, depth + 1) if v else {ANY} for v in values))
            scope = self.parent.get(scope)
        return {ANY}

    def render(self, node: ast.AST, bound: dict | None = None, depth: int = 0) -> set[str]:
        bound = bound or {}
        again = functools.partial(self.render, bound=bound, depth=depth + 1)
        if depth > 40:
            return {ANY}
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else {ANY}
        if isinstance(node, ast.JoinedStr):
            return concatenations([again(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values])
        if isinstance(node, ast.Name):
            return self.lookup(node, bound, depth)
        if isinstance(node, ast.IfExp):
            return again(node.body) | again(node.orelse)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return concatenations([again(node.left), again(node.right)])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            args = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
            return substitute(again(node.left), [again(a) for a in args], {}, percent=True)
        if isinstance(node, ast.Attribute):
            return {SCHEMA} if ast.unparse(node) == "work.schema" else {ANY}
        if not isinstance(node, ast.Call):
            return {ANY}
        name, func = callee(node), node.func
        if name in ("table", "staged_table") and isinstance(func, ast.Attribute) and ast.unparse(func.value) == "work":
            return {f"{SCHEMA}.{ANY}"}
        if name == "format" and isinstance(func, ast.Attribute):
            keywords = {k.arg: again(k.value) for k in node.keywords if k.arg}
            return substitute(again(func.value), [again(a) for a in node.args], keywords, percent=False)
        if name in ("SQL", "text") and node.args:
            return again(node.args[0])
        if name == "Identifier" and node.args:  # psycopg's sql.Identifier("schema", "table")
            dotted = [{"."}] * (2 * len(node.args) - 1)
            dotted[::2] = [again(a) for a in node.args]
            return concatenations(dotted)
        if (found := self.helper(node)) is not None:
            return self.follow(node, *found, bound, depth)
        return {ANY}

    def follow(self, call: ast.Call, other: SqlTexts, function: ast.FunctionDef, bound: dict, depth: int) -> set[str]:
        """What `function` (in the file `other`) returns for `call`'s arguments."""
        params = [p.arg for p in [*function.args.posonlyargs, *function.args.args]]
        defaults = dict(zip(params[len(params) - len(function.args.defaults):], function.args.defaults))
        given = {**dict(zip(params, call.args)), **{k.arg: k.value for k in call.keywords if k.arg}}
        inside = {(id(function), p): self.render(given[p], bound, depth + 1) if p in given
                  else other.render(defaults[p], {}, depth + 1) if p in defaults else {ANY} for p in params}
        returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return) and n.value]
        return set().union(*(other.render(r, inside, depth + 1) for r in returns)) or {ANY}


@functools.lru_cache(maxsize=None)
def sql_texts(path: Path) -> SqlTexts:
    return SqlTexts(path)


def builds_only_text_statements(module: ast.Module) -> bool:
    """From SQLAlchemy only `create_engine` and `text` (whose SQL the check above reads), and
    not the ORM mapping: no statement can come from a `Table` without a schema."""
    names = imported_modules(module)
    whole = any(a.name.split(".")[0] == "sqlalchemy" for n in ast.walk(module) if isinstance(n, ast.Import)
                for a in n.names)
    from_sqlalchemy = {n for n in names if n.split(".")[0] == "sqlalchemy"} - {"sqlalchemy"}
    return not whole and from_sqlalchemy <= TEXT_ONLY and "strategies._orm" not in names


def engine_only_for_to_sql(texts: SqlTexts, call: ast.Call) -> bool:
    """`engine = create_engine(...)` handed only to pandas' `to_sql()` (which names the schema
    itself) and disposed."""
    assign = texts.parent.get(call)
    if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Name)):
        return False
    uses = set()
    for node in ast.walk(texts.module):
        if isinstance(node, ast.Name) and node.id == assign.targets[0].id and isinstance(node.ctx, ast.Load):
            up = texts.parent[node]
            up = texts.parent[up] if isinstance(up, ast.keyword) else up
            if isinstance(up, ast.Attribute) and up.attr == "dispose":
                uses.add("dispose")
            else:
                uses.add("to_sql" if isinstance(up, ast.Call) and callee(up) == "to_sql" and node is not up.func
                         else "other")
    return uses == {"to_sql", "dispose"}


def check_tables_named_with_the_schema(s: Strategy) -> None:
    texts = sql_texts(s.path)
    for node in texts.roots():
        if isinstance(node, ast.Constant) and node.value.isidentifier():
            continue  # a name used as a key (`work.rows("users")`, a loop's items), not SQL
        for text in texts.render(node):
            bare = sorted(set(map(readable, unqualified_tables(text))))
            assert not bare, (f"{s.name} line {node.lineno}: {bare} in {readable(text)!r}: name the run's "
                               f"tables work.table(name) (or {{work.schema}}.name)")
    for call in (n for n in ast.walk(texts.module) if isinstance(n, ast.Call)):
        name, where = callee(call), f"{s.name} line {call.lineno}: {ast.unparse(call.func)}()"
        keywords = {k.arg: k.value for k in call.keywords if k.arg}

        def is_schema(node: ast.AST | None) -> bool:
            return node is not None and texts.render(node) == {SCHEMA}

        def names(node: ast.AST | None) -> set[str]:
            return texts.render(node) if node is not None else {ANY}

        if name == "create_engine":
            options = keywords.get("execution_options")
            maps = [v for k, v in zip(options.keys, options.values) if isinstance(k, ast.Constant)
                    and k.value == "schema_translate_map"] if isinstance(options, ast.Dict) else []
            translated = any(isinstance(m, ast.Dict) and any(isinstance(k, ast.Constant) and k.value is None
                                                             and is_schema(v) for k, v in zip(m.keys, m.values))
                             for m in maps)
            exempt = builds_only_text_statements(texts.module) or engine_only_for_to_sql(texts, call)
            assert translated or exempt, \
                f'{where} needs execution_options={{"schema_translate_map": {{None: work.schema}}}}'
        elif name == "to_sql":  # pandas looks the table up, and writes it, by name and schema
            assert is_schema(keywords.get("schema")), f"{where} needs schema=work.schema"
        elif name in ("copy_records_to_table", "copy_to_table", "copy_from_table"):  # asyncpg
            if not is_schema(keywords.get("schema_name")):
                tables = names(call.args[0] if call.args else keywords.get("table_name"))
                assert not any(map(qualified, tables)), \
                    f"{where}: asyncpg quotes table_name as one identifier; pass schema_name=work.schema"
                assert not any(map(could_be_run_table, tables)), f"{where} needs schema_name=work.schema"
        elif name in ("copy_from", "copy_to"):  # psycopg2 2.9 quotes `table` as one identifier
            tables = names(call.args[1] if len(call.args) > 1 else keywords.get("table"))
            assert not any(qualified(t) or could_be_run_table(t) for t in tables), \
                f"{where}: psycopg2 quotes its table as one identifier; use copy_expert() with work.table()"


PER_FILE_CHECKS = [check_file_name, check_name_starts_with_library, check_blank_line_after_title,
                   check_tags_literal, check_tags_keys_and_types, check_library_is_imported, check_technique,
                   check_main, check_module_body, check_connects_through_work, check_closes_what_it_opens,
                   check_threaded, check_phase_not_read, check_streaming, check_reference_only,
                   check_imports_only_helpers, check_tables_named_with_the_schema]


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
    check_library_is_known(example.tags["library"])
    assert len(example.description) > 300  # as tests/test_strategies.py asks of the catalogue
