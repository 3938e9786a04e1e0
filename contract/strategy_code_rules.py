"""The static strategy rules about what a strategy's code does (R11-R21 of
docs/adding-a-strategy.md): nothing runs at import, it connects and takes its rows through
`work`, closes what it opens, and its tags tell the truth about threads, streaming and the staged
rows. `contract/strategy_rules.py` lists them with the others and runs them.
"""

from __future__ import annotations

import ast
import re

from contract.strategy_source import (FUNCTIONS, StrategyFile, callee, checks, code_strings, imported_modules,
                                      require, tag, tree, work_attributes)
from contract.strategy_sql import (ANY, SCHEMA, builds_only_text_statements, could_be_run_table,
                                   engine_only_for_to_sql, qualified, readable, sql_texts, unqualified_tables)

# what a strategy may import from this package: the strategy API's constants (and the type)
WORKLOAD_NAMES = {"COLUMNS", "COLUMN_TYPES", "USER_COLUMNS", "ADDRESS_COLUMNS", "Workload"}
# calls that open a connection, an engine, a pool, a thread or a process, or run a loop
OPENERS = {"connect", "create_engine", "create_pool", "ThreadedConnectionPool", "SimpleConnectionPool",
           "Thread", "ThreadPoolExecutor", "ProcessPoolExecutor", "Process", "Popen", "run"}
WORK_LISTS = {"users", "addresses", "rows", "dicts", "user_dicts", "address_dicts"}
WORK_GENERATORS = {"iter_users", "iter_addresses", "iter_rows"}
WORK_REFERENCE_ONLY = {"staged_table"}


@checks("R11")
def check_module_body(s: StrategyFile) -> None:
    allowed = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.FunctionDef,
               ast.AsyncFunctionDef, ast.ClassDef)
    runs_at_import: list[ast.AST] = []
    for number, node in enumerate(tree(s.path).body):
        if number == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        require(s, isinstance(node, allowed), "R11",
                f"line {node.lineno}: at top level only imports, constants, TAGS, functions, classes")
        if isinstance(node, FUNCTIONS):
            runs_at_import += node.decorator_list + node.args.defaults + node.args.kw_defaults
        elif isinstance(node, ast.ClassDef):  # a class body runs at import, its methods do not
            runs_at_import += [n for n in node.body if not isinstance(n, FUNCTIONS)]
        else:
            runs_at_import.append(node)
    for part in runs_at_import:
        for call in (n for n in ast.walk(part or ast.Pass()) if isinstance(n, ast.Call)):
            require(s, callee(call) not in OPENERS, "R11",
                    f"line {call.lineno}: {ast.unparse(call.func)}() runs at import, outside main()")


@checks("R12")
def check_connects_through_work(s: StrategyFile) -> None:
    module = tree(s.path)
    for text in code_strings(module):
        require(s, not re.search(r"postgres(ql)?(\+\w+)?://", text), "R12", f"a hard-coded DSN {text!r}")
    harness = "imports the harness (experiments): take the strategy API from contract.workload"
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute):
            require(s, node.attr not in ("environ", "getenv", "environb"), "R12", "reads the environment")
        if isinstance(node, ast.Name):
            require(s, node.id not in ("environ", "getenv", "CONFIG"), "R12", f"reads {node.id}")
        if isinstance(node, ast.Import):
            require(s, not any(a.name.split(".")[0] == "experiments" for a in node.names), "R12", harness)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            root = node.module.split(".")[0]
            require(s, root != "experiments", "R12", harness)
            if root == "contract":
                require(s, node.module == "contract.workload" and {a.name for a in node.names} <= WORKLOAD_NAMES,
                        "R12", f"from contract take only {sorted(WORKLOAD_NAMES)} of contract.workload")
    require(s, work_attributes(module) & {"dsn", "sqlalchemy_url"}, "R12", "connects without work.dsn")


@checks("R13")
def check_closes_what_it_opens(s: StrategyFile) -> None:
    module = tree(s.path)
    calls = [n for n in ast.walk(module) if isinstance(n, ast.Call)]
    called = {callee(c) for c in calls}
    in_with = {id(item.context_expr) for n in ast.walk(module) if isinstance(n, (ast.With, ast.AsyncWith))
               for item in n.items}
    for call in calls:
        name, where = callee(call), f"line {call.lineno}: {ast.unparse(call.func)}()"
        if name == "create_engine":
            require(s, "dispose" in called, "R13", f"{where} needs engine.dispose() before main returns")
        elif name in ("ThreadedConnectionPool", "SimpleConnectionPool"):
            require(s, "closeall" in called, "R13", f"{where} needs pool.closeall()")
        elif name == "connect" and ast.unparse(call.func) == "psycopg2.connect":
            # psycopg2's `with conn:` ends the transaction, not the connection
            require(s, "close" in called, "R13", f"{where} needs conn.close()")
        elif name in ("connect", "create_pool"):
            require(s, id(call) in in_with or "close" in called, "R13", f"{where}: open it in a `with` or close it")


@checks("R14")
def check_threaded(s: StrategyFile) -> None:
    threaded = tag(s, "threaded", bool)
    if threaded is None:
        return
    reads_threads = "threads" in work_attributes(tree(s.path))
    require(s, reads_threads == threaded, "R14",
            f"TAGS threaded is {threaded} but it {'reads' if reads_threads else 'never reads'} work.threads")


@checks("R16")
def check_phase_not_read(s: StrategyFile) -> None:
    require(s, "phase" not in work_attributes(tree(s.path)), "R16", "an upsert does not branch on work.phase")


@checks("R18")
def check_streaming(s: StrategyFile) -> None:
    used = work_attributes(tree(s.path))
    if s.tags.get("streaming"):
        require(s, used & WORK_GENERATORS, "R18", "streaming, but no work.iter_users()/iter_addresses()")
        require(s, not used & WORK_LISTS, "R18", f"streaming, yet builds {sorted(used & WORK_LISTS)}")
    else:
        require(s, not used & WORK_GENERATORS, "R18", "uses the generators, so TAGS needs 'streaming': True")


@checks("R19")
def check_reference_only(s: StrategyFile) -> None:
    used = work_attributes(tree(s.path)) & WORK_REFERENCE_ONLY
    require(s, not used or s.is_reference, "R19", f"{sorted(used)} are for reference rows only")


@checks("R20")
def check_imports_only_helpers(s: StrategyFile) -> None:
    for name in imported_modules(tree(s.path)):
        parts = name.split(".")
        if parts[0] == "strategies" and len(parts) > 1:
            require(s, parts[1].startswith("_"), "R20", f"imports strategy {parts[1]}; share code in a _helper")


@checks("R21")
def check_tables_named_with_the_schema(s: StrategyFile) -> None:
    texts = sql_texts(s.path)
    for node in texts.roots():
        if isinstance(node, ast.Constant) and node.value.isidentifier():
            continue  # a name used as a key (`work.rows("users")`, a loop's items), not SQL
        for text in texts.render(node):
            bare = sorted(set(map(readable, unqualified_tables(text))))
            shown = readable(text) if len(text) <= 120 else readable(text[:117]) + "..."
            require(s, not bare, "R21", f"line {node.lineno}: {bare} in {shown!r}: name the run's "
                                        f"tables work.table(name) (or {{work.schema}}.name)")
    for call in (n for n in ast.walk(texts.module) if isinstance(n, ast.Call)):
        name, where = callee(call), f"line {call.lineno}: {ast.unparse(call.func)}()"
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
            require(s, translated or exempt, "R21",
                    f'{where} needs execution_options={{"schema_translate_map": {{None: work.schema}}}}')
        elif name == "to_sql":  # pandas looks the table up, and writes it, by name and schema
            require(s, is_schema(keywords.get("schema")), "R21", f"{where} needs schema=work.schema")
        elif name in ("copy_records_to_table", "copy_to_table", "copy_from_table"):  # asyncpg
            if not is_schema(keywords.get("schema_name")):
                tables = names(call.args[0] if call.args else keywords.get("table_name"))
                require(s, not any(map(qualified, tables)), "R21",
                        f"{where}: asyncpg quotes table_name as one identifier; pass schema_name=work.schema")
                require(s, not any(map(could_be_run_table, tables)), "R21", f"{where} needs schema_name=work.schema")
        elif name in ("copy_from", "copy_to"):  # psycopg2 2.9 quotes `table` as one identifier
            tables = names(call.args[1] if len(call.args) > 1 else keywords.get("table"))
            require(s, not any(qualified(t) or could_be_run_table(t) for t in tables), "R21",
                    f"{where}: psycopg2 quotes its table as one identifier; use copy_expert() with work.table()")
