"""Reading a strategy file without importing it, as discovery does: its syntax tree, the modules it
imports, the attributes it reads from `work`, its string constants; and `RuleBroken`, what a check
of the static strategy rules (`contract/strategy_rules.py`, docs/adding-a-strategy.md) raises."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Protocol

from contract import REPO_ROOT

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def tree(path: Path) -> ast.Module:
    """The file's syntax tree (parsed once for as long as the file is unchanged)."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


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
    """Attributes read from a name `work` (the strategy's Workload)."""
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


# -- what a check reads, and what it raises ----------------------------------------------------

class StrategyFile(Protocol):
    """What the checks read of a discovered strategy (`experiments.catalog.Strategy`)."""

    name: str
    path: Path
    title: str
    description: str
    tags: dict

    @property
    def is_reference(self) -> bool: ...


class RuleBroken(Exception):
    """The strategy file at `path` breaks rule `rule` (`R5`) of docs/adding-a-strategy.md: `what`."""

    def __init__(self, rule: str, path: Path, what: str):
        super().__init__(rule, path, what)
        self.rule, self.path, self.what = rule, Path(path), what

    def __str__(self) -> str:
        return f"rule {self.rule} broken by {shown(self.path)}: {self.what}"


def shown(path: Path) -> str:
    """`path` relative to the project when it is inside it (`strategies/x.py`), else as given."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def require(s: StrategyFile, ok: object, rule: str, what: str) -> None:
    if not ok:
        raise RuleBroken(rule, s.path, what)


def tag(s: StrategyFile, key: str, kind: type):
    """TAGS[key] when it has its type, else None (R6 reports it; the checks that need it skip)."""
    value = s.tags.get(key)
    return value if type(value) is kind else None


def checks(rule: str):
    """Marks a per-file check with the rule it checks (a check of two rules names the first)."""
    def mark(check):
        check.rule = rule
        return check
    return mark
