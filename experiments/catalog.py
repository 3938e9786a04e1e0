"""Finding strategies: every `strategies/<name>.py` not starting with `_` is one.

Discovery reads each file with `ast` and never imports it, so listing and describing are fast,
need none of the strategies' libraries, and a strategy with a syntax error still appears (and
fails when it runs, with the reason recorded). `broken_rules()` holds the files to the static
rules of docs/adding-a-strategy.md (`contract/strategy_rules.py`, the same checks the tests run);
a run prints what they find at its start, and runs the strategies all the same.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from contract.errors import UsageError
from contract.strategy_rules import RuleBroken
from contract.strategy_rules import broken_rules as file_breaks


@dataclass(frozen=True)
class Strategy:
    name: str
    path: Path
    title: str = ""
    description: str = ""
    tags: dict = field(default_factory=dict)
    problem: str = ""  # why it cannot be read (syntax error), empty when fine

    @property
    def library(self) -> str:
        return str(self.tags.get("library", "other"))

    @property
    def is_reference(self) -> bool:
        return bool(self.tags.get("reference"))


def read_strategy(path: Path) -> Strategy:
    name = path.stem
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as error:
        return Strategy(name, path, problem=f"SyntaxError: {error.msg} (line {error.lineno})")
    except (OSError, ValueError) as error:  # ValueError: not UTF-8; NUL bytes before Python 3.12
        return Strategy(name, path, problem=f"unreadable: {error}")
    doc = ast.get_docstring(tree) or ""
    title, _, rest = doc.strip().partition("\n")
    tags: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "TAGS" for t in node.targets
        ):
            try:
                tags = ast.literal_eval(node.value)
            except (ValueError, TypeError):  # TypeError: an unhashable key, {[1]: 2}
                tags = {}
    return Strategy(name, path, title.strip(), rest.strip(), tags if isinstance(tags, dict) else {})


def discover(folder: Path) -> list[Strategy]:
    if not folder.is_dir():
        raise UsageError(f"strategies folder {folder} "
                         + ("is not a folder" if folder.exists() else "does not exist"))
    found = [read_strategy(p) for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")]
    if not found:
        raise UsageError(f"no strategies in {folder}: a strategy is a <name>.py file there, "
                         "<name> not starting with _")
    return found


def select(strategies: list[Strategy], patterns: str) -> list[Strategy]:
    """Strategies matching comma-separated names or globs, in catalogue order.
    Every pattern must match something: a typo is an error, not an empty run."""
    wanted = [p.strip() for p in patterns.split(",") if p.strip()] or ["*"]
    names = [s.name for s in strategies]
    for pattern in wanted:
        if not fnmatch.filter(names, pattern):
            hint = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise UsageError(f"unknown strategy {pattern!r}: known are {hint or '(none)'}")
    return [s for s in strategies if any(fnmatch.fnmatchcase(s.name, p) for p in wanted)]


def broken_rules(strategies: list[Strategy]) -> list[RuleBroken]:
    """The static strategy rules each file breaks, one per rule and strategy, in the strategies'
    order (a few milliseconds a file). A file that cannot be read is left to its `problem`."""
    return [broken for s in strategies if not s.problem for broken in file_breaks(s)]
