"""`python -m experiments describe`: the catalogue as Markdown, read from the strategy files
(docstrings, TAGS, size) without importing them or any driver."""

from __future__ import annotations

from collections import defaultdict

from contract.libraries import LIBRARIES, library
from experiments.catalog import Strategy
from experiments.comprehensibility import measure

LIBRARY_ORDER = [entry.name for entry in LIBRARIES]  # the registry's order


def describe(strategies: list[Strategy]) -> str:
    """The catalogue as Markdown, grouped by library, from the files' docstrings and TAGS."""
    groups: dict[str, list[Strategy]] = defaultdict(list)
    for strategy in strategies:
        groups[strategy.library].append(strategy)
    order = sorted(groups, key=lambda lib: (LIBRARY_ORDER.index(lib) if lib in LIBRARY_ORDER
                                            else len(LIBRARY_ORDER), lib))
    out = [f"# Strategies ({len(strategies)})", ""]
    for name in order:
        entry = library(name)
        out += [f"## {name}", "", f"{entry.display}: {entry.family}.", ""]
        for strategy in groups[name]:
            out.append(f"### `{strategy.name}` — {strategy.title or '(no docstring)'}")
            out.append("")
            if strategy.problem:
                out += [f"**Cannot be read:** {strategy.problem}", ""]
            if strategy.description:
                out += [strategy.description, ""]
            if strategy.tags:
                tags = ", ".join(f"{k}: `{v}`" for k, v in strategy.tags.items())
                out += [f"*Tags:* {tags}", ""]
            size = measure(strategy.path)
            if size:
                out += [f"*Size:* {size.loc} lines of code, cyclomatic complexity {size.complexity}, "
                        f"{size.apis} library APIs, {'raw SQL' if size.raw_sql else 'no raw SQL'} "
                        "(a proxy: see README)", ""]
    return "\n".join(out).rstrip() + "\n"
