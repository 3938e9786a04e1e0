"""The static strategy rules of docs/adding-a-strategy.md: what a strategy file can be checked for
without importing it or touching a database (a few milliseconds a file).

Each check takes a discovered strategy (`experiments.catalog.Strategy`: name, path, title,
description, tags) and raises `RuleBroken` naming the rule (R1, R2, ...) at the first way the
file breaks it. Two users: `tests/test_strategy_rules.py` (one test per rule, over the catalogue
and the page's example; the page's "Checked by:" lines name those tests), and discovery, whose
`broken_rules()` a run prints at its start, one line per rule and strategy (the strategy still
runs: `experiments/run/console.py`). The rules a database must check (R13's connection count,
R15, R17, R21's decoy schema) stay in the tests that run strategies.

Here: the declarations (R1-R10: name, docstring, TAGS, library, technique, `main`) and the list
of every check; `strategy_code_rules.py`: what the code does (R11-R21); `strategy_sql.py`: the
SQL texts a file builds (R21); `strategy_source.py`: reading a file, and `RuleBroken`.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import keyword
import re

from contract import REPO_ROOT
from contract.libraries import BY_NAME
from contract.strategy_code_rules import (check_closes_what_it_opens, check_connects_through_work,
                                          check_imports_only_helpers, check_module_body, check_phase_not_read,
                                          check_reference_only, check_streaming, check_tables_named_with_the_schema,
                                          check_threaded)
from contract.strategy_source import (FUNCTIONS, RuleBroken, StrategyFile, checks, code_strings, imported_modules,
                                      require, tag, tree)

REQUIRED_TAGS = {"library": str, "api": str, "technique": str, "threaded": bool}
OPTIONAL_TAGS = {"reference": bool, "streaming": bool, "connections": int}
APIS = {"orm", "core", "driver", "server"}
SERVER_LIBRARY = "postgresql"  # the `library` of work done inside the server: no package
MERGE_TECHNIQUES = ("sql_merge", "copy_merge")  # SQL MERGE: a run refuses a server older than 15


def uses_sql_merge(module: ast.AST) -> bool:
    texts = any(re.search(r"\bMERGE\s+INTO\b", s, re.I) for s in code_strings(module))
    helper = any(isinstance(n, ast.ImportFrom) and n.module == "strategies._sql"
                 and any(a.name == "merge_statement" for a in n.names) for n in ast.walk(module))
    return texts or helper


@functools.lru_cache(maxsize=None)
def _declared_packages() -> frozenset[str] | None:
    """The distributions pyproject.toml's dependencies name (None without a pyproject.toml)."""
    try:
        pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")  # no tomllib on 3.10
    except OSError:
        return None
    found = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.M | re.S)
    return frozenset(re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].lower()
                     for dep in re.findall(r'^\s*"([^"]+)"', found.group(1) if found else "", re.M))


def library_problem(library: str) -> str:
    """Why `library` cannot be a strategy's TAGS library here, '' when it can: one entry in
    contract/libraries.py (which describe, comprehensibility, the figures and the report read),
    and a client library installed and declared in pyproject.toml."""
    if library not in BY_NAME:
        return f"add a Library({library!r}, ...) entry to contract/libraries.py"
    entry = BY_NAME[library]
    if library == SERVER_LIBRARY:
        return ""
    if not (entry.imports and entry.packages):
        return f"give {library!r} its imports and packages in contract/libraries.py"
    for module in entry.imports:
        if not importlib.util.find_spec(module):
            return f"{module} is not installed: add it to pyproject.toml, then make lock"
    declared = _declared_packages()
    if declared is not None and not set(entry.packages) & declared:
        return f"none of {entry.packages} is a dependency in pyproject.toml"
    return ""


# -- one check per rule ---------------------------------------------------------------------

@checks("R1")
def check_file_name(s: StrategyFile) -> None:
    require(s, s.path.suffix == ".py" and s.path.stem == s.name, "R1", "a strategy is a <name>.py file")
    require(s, re.fullmatch(r"[a-z][a-z0-9_]*", s.name), "R1", f"{s.name!r} is not lower_snake_case")
    require(s, s.name.isidentifier() and not keyword.iskeyword(s.name), "R1", f"{s.name!r} is a keyword")


@checks("R2")
def check_name_starts_with_library(s: StrategyFile) -> None:
    library = tag(s, "library", str)
    if s.is_reference or library is None:
        return
    require(s, s.name.startswith(library + "_"), "R2", f"the name does not start with {library}_ (its library)")


@checks("R4")
def check_blank_line_after_title(s: StrategyFile) -> None:
    lines = (ast.get_docstring(tree(s.path), clean=False) or "").split("\n")
    require(s, len(lines) >= 3 and lines[0].strip() == s.title and lines[1].strip() == "" and s.description,
            "R4", "the docstring is a one-line title, a blank line, then the description")


@checks("R5")
def check_tags_literal(s: StrategyFile) -> None:
    module = tree(s.path)
    assigned = [n for n in module.body if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "TAGS" for t in n.targets)]
    annotated = [n for n in module.body if isinstance(n, ast.AnnAssign)
                 and isinstance(n.target, ast.Name) and n.target.id == "TAGS"]
    require(s, not annotated, "R5", "`TAGS: dict = ...` is not read by discovery; write `TAGS = {...}`")
    require(s, len(assigned) == 1, "R5", "TAGS must be assigned exactly once, at the top level")
    node = assigned[0]
    require(s, len(node.targets) == 1 and isinstance(node.value, ast.Dict), "R5", "TAGS is one dict literal")
    try:
        literal = ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError):  # names, calls, f-strings; TypeError: unhashable keys
        literal = None
    require(s, isinstance(literal, dict), "R5", "TAGS holds literals only (no names, calls or f-strings)")
    stores = [n for n in ast.walk(module) if isinstance(n, ast.Name) and n.id == "TAGS"
              and isinstance(n.ctx, (ast.Store, ast.Del))]
    changed = [n for n in ast.walk(module) if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
               and n.value.id == "TAGS" and isinstance(n.ctx, (ast.Store, ast.Del))]
    mutated = [n for n in ast.walk(module) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "TAGS"]
    require(s, len(stores) == 1 and not changed and not mutated, "R5", "TAGS is changed after its literal")


@checks("R6")
def check_tags_keys_and_types(s: StrategyFile) -> None:
    """R6 (the required keys) and R7 (the optional ones, and no others)."""
    tags = s.tags
    unknown = set(tags) - set(REQUIRED_TAGS) - set(OPTIONAL_TAGS)
    require(s, not unknown, "R7", f"unknown TAGS keys {sorted(unknown)} (misspelt?)")
    missing = set(REQUIRED_TAGS) - set(tags)
    require(s, not missing, "R6", f"TAGS lacks {sorted(missing)}")
    for key, kind in {**REQUIRED_TAGS, **OPTIONAL_TAGS}.items():
        if key in tags:
            require(s, type(tags[key]) is kind, "R6" if key in REQUIRED_TAGS else "R7",
                    f"TAGS[{key!r}] must be a {kind.__name__}")
    require(s, tags["api"] in APIS, "R6", f"api {tags['api']!r} is not one of {sorted(APIS)}")
    require(s, re.fullmatch(r"[a-z][a-z0-9_]*", tags["library"]), "R6",
            f"library {tags['library']!r} is not a module name")
    if "connections" in tags:
        require(s, tags["connections"] >= 1, "R7", "TAGS['connections'] must be at least 1")


@checks("R8")
def check_library_is_imported(s: StrategyFile) -> None:
    library = tag(s, "library", str)
    if library is None or library == SERVER_LIBRARY:
        return
    roots = {name.split(".")[0] for name in imported_modules(tree(s.path))}
    require(s, library in roots, "R8", f"library {library!r} but the file does not import {library}")


@checks("R8")
def check_library_is_registered(s: StrategyFile) -> None:
    library = tag(s, "library", str)
    problem = library_problem(library) if library is not None else ""
    require(s, not problem, "R8", problem)


@checks("R9")
def check_technique(s: StrategyFile) -> None:
    """The static half of R9 (tests/test_strategy_rules.py also asks the runner to refuse an old server)."""
    technique = tag(s, "technique", str)
    if technique is None:
        return
    require(s, re.fullmatch(r"[a-z][a-z0-9_]*", technique), "R9", f"technique {technique!r} is not lower_snake_case")
    merge = uses_sql_merge(tree(s.path))
    require(s, (technique in MERGE_TECHNIQUES) == merge, "R9",
            f"it runs SQL MERGE: tag it {' or '.join(MERGE_TECHNIQUES)}" if merge
            else f"technique {technique!r} is for strategies running SQL MERGE, and it runs none")


@checks("R10")
def check_main(s: StrategyFile) -> None:
    mains = [n for n in tree(s.path).body if isinstance(n, FUNCTIONS) and n.name == "main"]
    require(s, len(mains) == 1, "R10", "one top-level `def main(work)`")
    main = mains[0]
    require(s, isinstance(main, ast.FunctionDef), "R10", "main must be a plain def (use asyncio.run inside)")
    args = main.args
    params = args.posonlyargs + args.args
    require(s, len(params) == 1 and not (args.vararg or args.kwonlyargs or args.kwarg or args.defaults),
            "R10", "main takes exactly one parameter")
    require(s, params[0].arg == "work", "R10", "name main's parameter `work` (`total` means seed style)")
    annotation = params[0].annotation
    require(s, not (annotation is not None and ast.unparse(annotation) in ("int", "'int'")), "R10",
            "main's parameter is the Workload, not an int")


PER_FILE_CHECKS = [check_file_name, check_name_starts_with_library, check_blank_line_after_title,
                   check_tags_literal, check_tags_keys_and_types, check_library_is_imported,
                   check_library_is_registered, check_technique, check_main, check_module_body,
                   check_connects_through_work, check_closes_what_it_opens, check_threaded, check_phase_not_read,
                   check_streaming, check_reference_only, check_imports_only_helpers,
                   check_tables_named_with_the_schema]


def broken_rules(s: StrategyFile) -> list[RuleBroken]:
    """The rules the file breaks, one `RuleBroken` per rule (the first way found), in rule order.
    A file that does not parse breaks none here: discovery already lists it as unreadable."""
    try:
        tree(s.path)
    except (OSError, SyntaxError, ValueError):
        return []
    found: dict[str, RuleBroken] = {}
    for check in PER_FILE_CHECKS:
        try:
            check(s)
        except RuleBroken as broken:
            found.setdefault(broken.rule, broken)
        except Exception as error:  # a file shaped as no check foresaw: say so, never stop the run
            found.setdefault(check.rule, RuleBroken(check.rule, s.path, f"could not be checked ({error!r})"))
    return sorted(found.values(), key=lambda broken: int(broken.rule[1:]))
