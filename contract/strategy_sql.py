"""Rule R21, statically: the SQL texts a strategy file builds, and the run's tables they name.

Every string a strategy builds (constants, f-strings, `+`, `%`, `.format()`, psycopg's
`sql.SQL`/`sql.Identifier`, SQLAlchemy's `text()`, and the `strategies._*` helpers, followed into
with the call's arguments) is rendered to the texts it may be: `work.schema` as SCHEMA,
`work.table(...)` / `work.staged_table(...)` as `SCHEMA.ANY`, a name as what is assigned to it
in its scope (a loop over literals: each literal), and what the file does not tell (a parameter,
any other call) as ANY. A text breaks R21 when it names one of the run's tables without SCHEMA in
front, or when the relation after INTO, FROM, LIKE, ... could be one.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from contract import REPO_ROOT
from contract.strategy_source import FUNCTIONS, callee, docstring_ids, imported_modules, tree
from contract.workload import COLUMNS, PHASES, stage_table

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
        self.path, self.module = path, tree(path)
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


def sql_texts(path: Path) -> SqlTexts:
    """The texts of `path` (built once for as long as the file is unchanged)."""
    stat = path.stat()
    return _sql_texts(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _sql_texts(path: Path, mtime_ns: int, size: int) -> SqlTexts:
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
