"""A comprehensibility proxy for each strategy, measured from its own file.

- `loc`: source lines of code, without docstrings, comments and blank lines (radon's SLOC);
- `complexity`: total cyclomatic complexity of the module (radon: every function, method and
  the module body; 1 per straight-line function, +1 per branch or loop);
- `apis`: distinct library APIs it names: the names it imports from the database and data
  libraries (sqlalchemy, psycopg2, psycopg, asyncpg, pandas) plus every distinct method name it
  calls on an object that is not the harness's `work` and not a plain str/list/dict/set/tuple;
- `raw_sql`: whether it carries SQL text (a string that reads as SQL, or the `_sql` helpers that
  build it) rather than only library constructs.

A proxy, not a verdict: it misses how familiar the concepts are (ON CONFLICT, COPY escaping,
MERGE semantics), how much a helper module hides (a strategy that imports `_psycopg2_copy`
looks shorter than it is), and names and comments, which carry most of a file's clarity.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from contract.libraries import import_names

LIBRARIES = import_names()  # from the registry: sqlalchemy, psycopg2, psycopg, asyncpg, pandas
SQL_HELPERS = {"upsert_statement", "merge_statement", "update_set", "column_list", "placeholders"}
_PLAIN_METHODS = {name for kind in (str, list, dict, set, tuple, bytes) for name in dir(kind)}
_SQL_TEXT = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+|MERGE\s+INTO|COPY\s+\w+|SELECT\s+.+\s+FROM|"
                       r"CREATE\s+(TEMP|UNLOGGED)?\s*TABLE|ON\s+CONFLICT|DELETE\s+FROM)\b", re.S)


@dataclass(frozen=True)
class Comprehensibility:
    loc: int
    complexity: int
    apis: int
    raw_sql: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _library_names(tree: ast.AST) -> set[str]:
    """Names bound by imports from the libraries, and the dotted APIs used through modules."""
    imported: dict[str, str] = {}  # local name -> dotted origin
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    imported[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in imported and not imported[inner.id].count("."):
                used.add(".".join([imported[inner.id], *reversed(chain)]))
        elif isinstance(node, ast.Name) and node.id in imported and imported[node.id].count("."):
            used.add(imported[node.id])
    return used


def _called_methods(tree: ast.AST, module_names: set[str]) -> set[str]:
    methods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id == "work" or owner.id in module_names):
                continue
            if node.func.attr not in _PLAIN_METHODS:
                methods.add(node.func.attr)
    return methods


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (module, class, function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _raw_sql(tree: ast.AST) -> bool:
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if _SQL_TEXT.search(node.value):
                return True
        if isinstance(node, ast.ImportFrom) and node.module == "strategies._sql":
            if {a.name for a in node.names} & SQL_HELPERS:
                return True
    return False


def measure_source(source: str) -> Comprehensibility:
    from radon.raw import analyze
    from radon.visitors import ComplexityVisitor

    tree = ast.parse(source)
    modules = {n.asname or n.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for n in node.names}
    apis = {name.split(".")[-1] for name in _library_names(tree)} | _called_methods(tree, modules)
    return Comprehensibility(
        loc=analyze(source).sloc,
        complexity=ComplexityVisitor.from_code(source).total_complexity,
        apis=len(apis),
        raw_sql=_raw_sql(tree),
    )


def measure(path: Path) -> Comprehensibility | None:
    try:
        return measure_source(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
