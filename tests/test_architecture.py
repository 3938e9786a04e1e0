"""The code's shape (issue 11): no import cycles, and the harness and the analysis apart.

Every import of every module is counted, function-local ones too (they hide a cycle, they do
not remove it). `experiments` (the harness) and `analysis` never import each other; both may
import `contract`, which imports neither. Shipped strategies (`strategies/`, helpers included)
import `contract` (the strategy API, `contract.workload`) and their libraries, never the harness
or the analysis. Run this file directly for the report quoted in
notes: `python tests/test_architecture.py` (cycles, cross edges, largest module and function).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("contract", "experiments", "analysis", "strategies")
# (importer, imported): top-level packages that must never meet
FORBIDDEN = {("experiments", "analysis"), ("analysis", "experiments"), ("contract", "experiments"),
             ("contract", "analysis"), ("strategies", "analysis"), ("strategies", "experiments")}
# the harness's stages, in the order a run meets them: an import may point back, never forward
# (0: shared infrastructure any stage may use)
STAGES = {"experiments": 0, "experiments.process": 0, "experiments.config": 1, "experiments.urls": 1,
          "experiments.catalog": 2, "experiments.workload": 2, "experiments.comprehensibility": 2,
          "experiments.servers": 3, "experiments.database": 4, "experiments.passes": 5,
          "experiments.run": 6, "experiments.__main__": 7, "experiments.commands": 7, "experiments.describe": 7,
          "experiments.clean": 7}
MAX_LINES = {"experiments/run": 250, "experiments/passes": 250,  # the runner's parts (issue 11)
             "analysis": 300}  # one job per module (issue 20)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the importing module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return []


def import_graph() -> dict[str, set[str]]:
    """{module: modules of ours it imports}, counting every import statement in the file."""
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, name, path.name == "__init__.py", known):
                # `import a.b.c` names a module; keep its longest known prefix
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cross_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if (a.split(".")[0], b.split(".")[0]) in FORBIDDEN)


def stage(module: str) -> int | None:
    while module and module not in STAGES:
        module = module.rpartition(".")[0]
    return STAGES.get(module)


def forward_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from an earlier stage of the harness into a later one."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if a.startswith("experiments") and b.startswith("experiments") and stage(b) > stage(a))


def sizes() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, module) and (lines, module:function) of experiments/, analysis/ and contract/."""
    module_lines, function_lines = [], []
    for name, path in modules().items():
        if name.startswith("strategies"):
            continue
        text = path.read_text(encoding="utf-8")
        module_lines.append((len(text.splitlines()), str(path.relative_to(ROOT))))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function_lines.append((node.end_lineno - node.lineno + 1, f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(module_lines, reverse=True), sorted(function_lines, reverse=True)


def test_the_checker_sees_a_cycle_and_a_cross_edge():
    """The check can fail: a made-up graph with both faults is caught."""
    graph = {"experiments.a": {"experiments.b"}, "experiments.b": {"experiments.a", "analysis.x"},
             "analysis.x": set()}
    assert cycles(graph) == [["experiments.a", "experiments.b"]]
    assert cross_edges(graph) == [("experiments.b", "analysis.x")]


def test_the_graph_counts_function_local_imports():
    graph = import_graph()
    # experiments/run/manifest.py is imported inside nothing, but e.g. the CLI imports the
    # runner inside a function: it must be an edge all the same
    assert "experiments.run.runner" in graph["experiments.__main__"]
    assert "contract.row" in graph["analysis.load"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_harness_and_analysis_never_import_each_other():
    assert cross_edges(import_graph()) == []


def harness_imports(path: Path) -> list[str]:
    """`line N: import ...` for every import of `experiments` in the file (function-local too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
        if any(name.split(".")[0] == "experiments" for name in names):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def strategies_importing_the_harness() -> dict[str, list[str]]:
    return {path.name: lines for path in sorted((ROOT / "strategies").glob("*.py"))
            if (lines := harness_imports(path))}


def test_no_shipped_strategy_imports_the_harness(tmp_path):
    """A strategy (or a `_` helper) takes the strategy API from `contract`: `import experiments`
    or `from experiments... import ...` in strategies/ fails, wherever it stands in the file.
    Rule R12 in docs/adding-a-strategy.md."""
    caught = tmp_path / "sneaky.py"
    caught.write_text("import experiments.config\n\ndef main(work):\n    from experiments.workload import COLUMNS\n")
    assert harness_imports(caught) == ["line 1: import experiments.config",
                                       "line 4: from experiments.workload import COLUMNS"]
    assert strategies_importing_the_harness() == {}


def test_every_harness_module_has_a_stage_and_imports_only_backwards():
    graph = import_graph()
    assert [m for m in graph if m.startswith("experiments") and stage(m) is None] == []
    assert forward_edges(graph) == []


def test_the_runners_parts_stay_small():
    too_big = [(lines, path) for lines, path in sizes()[0]
               for folder, limit in MAX_LINES.items() if path.startswith(folder + "/") and lines > limit]
    assert too_big == []


def report() -> str:
    graph = import_graph()
    module_lines, function_lines = sizes()
    found_cycles, edges = cycles(graph), cross_edges(graph)
    lines = [f"modules: {len(graph)}, import edges: {sum(len(t) for t in graph.values())}",
             f"cycles: {len(found_cycles)}" + "".join(f"\n  {' <-> '.join(c)}" for c in found_cycles),
             f"cross edges: {len(edges)}" + "".join(f"\n  {a} -> {b}" for a, b in edges),
             f"forward edges between the harness's stages: {len(forward_edges(graph))}",
             f"shipped strategies importing experiments: {len(strategies_importing_the_harness())}",
             f"largest module: {module_lines[0][1]} ({module_lines[0][0]} lines)",
             f"largest function: {function_lines[0][1]} ({function_lines[0][0]} lines)"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    sys.exit(0)
