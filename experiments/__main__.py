"""`python -m experiments <command>`: run, sweep, describe, create-tables, count-rows, print-rows, serve, clean.

The original project's snake_case names (`test_all`, `create_tables`, ...) are accepted too.
The analysis commands (figures, graph, aggregate, correlate, compare) belong to
`python -m analysis`; typed here they are handed to it in a child process (the harness never
imports the analysis). Every bad input ends in one line on stderr and exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from contract import ENV_PREFIX, REPO_ROOT
from contract.envfile import results_dir
from contract.errors import OneLineParser, exit_status
from experiments.settings_table import add_run_flags, run_flag_values  # standard library only

ANALYSIS_COMMANDS = ("figures", "graph", "publish", "aggregate", "correlate", "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", aliases=["test_all", "test-all"], help="run the benchmark")
    add_run_flags(run)  # a flag for every setting that has one
    run.add_argument("--from", dest="from_run", metavar="RUN",
                     help="re-run the experiment of this run folder (path or run id): its settings, "
                          "strategies, server version and seed; flags given as well still apply")
    sweep = commands.add_parser("sweep", help="run the benchmark over a grid of items x threads")
    add_run_flags(sweep)

    describe = commands.add_parser("describe", help="list the strategies as Markdown")
    describe.add_argument("--strategies", help="names or globs (default all)")
    describe.add_argument("--strategies-dir")

    for name, alias, help_text in (("create-tables", "create_tables", "create users and addresses"),
                                   ("count-rows", "count_rows", "count rows in both tables"),
                                   ("print-rows", "print_rows", "print the first rows of both tables")):
        sub = commands.add_parser(name, aliases=[alias], help=help_text)
        sub.add_argument("--dsn", help="server to use (default: the DATABASE_URL setting)")
        sub.add_argument("--schema", default="public", help="schema holding the tables")
        if name == "print-rows":
            sub.add_argument("--limit", type=int, default=10)

    clean = commands.add_parser("clean", help="remove run folders and what killed runs left behind")
    clean.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    clean.add_argument("--results-dir", help="run folders to remove (RESULTS_DIR)")

    for name in ANALYSIS_COMMANDS:  # never parsed here: main() hands them over first
        commands.add_parser(name, help=f"(analysis) same as `python -m analysis {name}`", add_help=False)

    serve = commands.add_parser("serve", help="start an embedded server that stays up until Ctrl-C")
    serve.add_argument("--pg", help="embedded major version (default newest)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ANALYSIS_COMMANDS:
        return _hand_to_analysis(argv)
    return exit_status(lambda: _dispatch(build_parser().parse_args(argv)))


def _settings(cli: dict | None = None):
    from experiments.config import load_settings

    return load_settings(cli)


def _hand_to_analysis(argv: list[str]) -> int:
    """`python -m experiments figures ...` as the original project typed it: run
    `python -m analysis figures ...` and return its exit status."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    try:
        return subprocess.call([sys.executable, "-m", "analysis", *argv], env=env)
    except KeyboardInterrupt:
        return 130


def _rerun(where: str, cli: dict) -> int:
    from experiments.catalog import discover
    from experiments.config import load_settings
    from experiments.run import rerun
    from experiments.run.preflight import preflight

    original = rerun.load(where, dsn_given=bool(cli.get("DATABASE_URL") or os.environ.get(
        ENV_PREFIX + "DATABASE_URL")))
    settings = load_settings(cli, rerun=(f"--from {original.run_id}", original.settings))
    rerun.check_strategies(original, [s.name for s in discover(settings.path(settings.strategies_dir))])
    plan = preflight(settings)  # what cannot be recreated is refused before the harness loads
    from experiments.run import manifest
    from experiments.run.folder import git_diff_text, git_state
    from experiments.run.runner import Runner

    lines = rerun.differences(original, {"git": git_state(), "machine": manifest.machine(),
                                         "packages": manifest.packages(), "diff": git_diff_text()})
    print("\n".join(lines))
    return Runner(settings, rerun_of={"run_id": original.run_id, "differences": lines}, plan=plan).run()


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command.replace("_", "-")
    if command == "clean":  # standard library only: works without the benchmark's packages
        from experiments.clean import clean

        clean(results_dir(args.results_dir), args.dry_run)
        return 0

    if command in ("run", "test-all", "sweep"):
        cli = run_flag_values(args)  # {TOTAL_ITEMS: "50", ...}; None where no flag was given
        if command != "sweep":
            if getattr(args, "from_run", None):
                return _rerun(args.from_run, cli)
            settings = _settings(cli)  # a bad setting is one line before the harness is imported
            from experiments.run.preflight import preflight

            plan = preflight(settings)
            from experiments.run.runner import Runner

            return Runner(settings, plan=plan).run()
        from experiments.run.sweep import parse_list, run_sweep

        settings = _settings(dict(cli, TOTAL_ITEMS=None, TOTAL_THREADS=None))
        items = parse_list(cli["TOTAL_ITEMS"] or str(settings.items), "--items")
        threads = parse_list(cli["TOTAL_THREADS"] or str(settings.threads), "--threads")
        return run_sweep(settings, items, threads)
    if command == "describe":
        from experiments.catalog import discover, select
        from experiments.describe import describe

        settings = _settings({"STRATEGIES": args.strategies, "STRATEGIES_DIR": args.strategies_dir})
        strategies = select(discover(settings.path(settings.strategies_dir)), settings.strategies)
        print(describe(strategies), end="")
        return 0
    from experiments import commands

    if command == "serve":
        from experiments.servers import parse_pg

        settings = _settings({"PG": args.pg})
        spec = parse_pg(settings.pg, settings.pg_bin)[0]
        commands.serve(spec, print)
        return 0
    dsn = args.dsn or _settings().database_url
    if command == "create-tables":
        print(commands.create_tables(dsn, args.schema))
    elif command == "count-rows":
        print(commands.count_rows(dsn, args.schema))
    elif command == "print-rows":
        print(commands.print_rows(dsn, args.schema, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
