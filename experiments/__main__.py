"""`python -m experiments <command>`: run, describe, create-tables, count-rows, print-rows, serve.

The original project's snake_case names (`test_all`, `create_tables`, ...) are accepted too.
Every bad input ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`error: ...`), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


RUN_FLAGS = {  # flag -> (setting name, help)
    "--items": ("TOTAL_ITEMS", "rows per table (TOTAL_ITEMS)"),
    "--threads": ("TOTAL_THREADS", "threads/connections for threaded strategies (TOTAL_THREADS)"),
    "--repeat": ("REPEAT", "times every strategy runs both passes (REPEAT)"),
    "--strategies": ("STRATEGIES", "comma-separated names or globs (STRATEGIES), e.g. 'psycopg*'"),
    "--pg": ("PG", "embedded PostgreSQL major version(s): 16, 18, or 16,18 (PG; default newest)"),
    "--timeout": ("TIMEOUT", "seconds one pass may take before it is killed (TIMEOUT)"),
    "--seed": ("SEED", "seed of the strategy order shuffle (SEED; default a fresh one)"),
    "--pg-bin": ("PG_BIN", "folder with initdb and postgres to use (PG_BIN; = --pg local)"),
    "--dsn": ("DATABASE_URL", "run against this existing server instead (DATABASE_URL); "
                              "prefer the environment variable, argv is visible to `ps`"),
    "--schema": ("SCHEMA", "with --dsn: the private schema to create (default upsert_bench_<run>)"),
    "--results-dir": ("RESULTS_DIR", "where run folders go (RESULTS_DIR)"),
    "--strategies-dir": ("STRATEGIES_DIR", "folder of strategy files (STRATEGIES_DIR)"),
}


def _items(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--items must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--items must be at least 1, got {value}")
    return value


def _since(text: str) -> str:
    """A day (YYYY-MM-DD, YYYY-MM or YYYY) or a run id (or its start): run ids begin with the
    date, so anything else would silently select no run."""
    import datetime
    import re

    day = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if day:
        try:
            datetime.date(int(day[1]), int(day[2] or 1), int(day[3] or 1))
            return text
        except ValueError:
            pass
    elif re.fullmatch(r"\d{8}(-\d{1,6}(-[0-9a-f]*)?)?", text):
        return text
    raise argparse.ArgumentTypeError(
        f"--since must be a date (YYYY-MM-DD) or a run id, got {text!r}")


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    for flag, (_, help_text) in RUN_FLAGS.items():
        parser.add_argument(flag, help=help_text)
    parser.add_argument("--pg-setting", action="append", metavar="NAME=VALUE", dest="pg_setting",
                        help="server setting for every server the run starts, repeatable (PG_SETTINGS)")
    parser.add_argument("--keep-schema", action="store_const", const="1", dest="KEEP_SCHEMA",
                        help="with --dsn: keep the schema and its tables after the run (KEEP_SCHEMA=1)")
    parser.add_argument("--contention", action="store_const", const="1", dest="CONTENTION",
                        help="race the update pass against a second writer on the same keys (CONTENTION=1)")
    parser.add_argument("--no-memory", action="store_const", const="0", dest="MEASURE_MEMORY",
                        help="skip the memray-tracked process of every pass (MEASURE_MEMORY=0)")
    parser.add_argument("--keep-captures", action="store_const", const="1", dest="KEEP_CAPTURES",
                        help="keep memray capture files in the run folder (KEEP_CAPTURES=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m experiments", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", aliases=["test_all", "test-all"], help="run the benchmark")
    _add_run_flags(run)
    sweep = commands.add_parser("sweep", help="run the benchmark over a grid of items x threads")
    _add_run_flags(sweep)

    compare = commands.add_parser("compare", help="compare two runs (or two servers of one run)")
    compare.add_argument("a", help="run id or glob, optionally RUN:SERVER (e.g. RUN:embedded:16)")
    compare.add_argument("b", help="the run to compare with A")
    compare.add_argument("--fail-on-slower", metavar="NAMES",
                         help="exit 1 if one of these strategies (names or globs) got significantly slower")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    compare.add_argument("--results-dir", help="where the run folders are (RESULTS_DIR)")

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

    for name, help_text in (("aggregate", "print aggregate.csv of the selected runs (stdout)"),
                            ("correlate", "print correlation.csv of the selected runs (stdout)"),
                            ("figures", "write CSVs, figures and REPORT.md into --out")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--runs", help="run ids or globs, comma-separated (default: all)")
        sub.add_argument("--since", type=_since,
                         help="runs started on or after this date (YYYY-MM-DD) or run id")
        sub.add_argument("--items", type=_items, help="only passes with this many items")
        sub.add_argument("--sweep", help="only the runs of this sweep id, or 'latest'")
        sub.add_argument("--results-dir", help="where the run folders are (RESULTS_DIR)")
        if name == "figures":
            sub.add_argument("--out", default="figures", help="output folder (default figures/)")
    commands.add_parser("graph", help="the original's name for `figures`").set_defaults(
        runs=None, since=None, items=None, results_dir=None, out="figures", sweep=None)

    serve = commands.add_parser("serve", help="start an embedded server that stays up until Ctrl-C")
    serve.add_argument("--pg", help="embedded major version (default newest)")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _dispatch(build_parser().parse_args(argv))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _settings(cli: dict | None = None):
    from experiments.config import load_settings

    return load_settings(cli)


def _results_dir(flag: str | None) -> Path:
    """RESULTS_DIR (flag > environment > .env > .env_dist) without the other settings, so
    `clean` works with the standard library alone."""
    import os

    from experiments import ENV_PREFIX, REPO_ROOT
    from experiments.config import read_env_file

    value = "results"
    for env_file in (REPO_ROOT / ".env_dist", REPO_ROOT / ".env"):
        if env_file.exists():
            value = read_env_file(env_file).get("RESULTS_DIR", value)
    value = flag or os.environ.get(ENV_PREFIX + "RESULTS_DIR", value)
    path = Path(value).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def _analysis(command: str, args: argparse.Namespace) -> int:
    from experiments import REPO_ROOT

    results_dir = _results_dir(args.results_dir)
    if command in ("figures", "graph"):
        import time

        from analysis.build import build

        out = Path(args.out).expanduser()
        out = out if out.is_absolute() else REPO_ROOT / out
        started = time.perf_counter()
        written = build(results_dir, out, args.runs, args.since, args.items,
                        echo=lambda line: print(line, file=sys.stderr), sweep=args.sweep)
        for path in written:
            print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
        print(f"{len(written)} files in {out} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        return 0
    from analysis.aggregate import aggregate
    from analysis.correlate import correlate
    from analysis.load import load_runs

    loaded = load_runs(results_dir, args.runs, args.since, args.items,
                       warn=lambda line: print(line, file=sys.stderr), sweep=args.sweep)
    table = aggregate(loaded.passes)
    if command == "correlate":
        table = correlate(table)
    table.to_csv(sys.stdout, index=False, float_format="%.6g", lineterminator="\n")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command.replace("_", "-")
    if command == "clean":  # standard library only: works without the benchmark's packages
        from experiments.clean import clean

        clean(_results_dir(args.results_dir), args.dry_run)
        return 0

    if command in ("aggregate", "correlate", "figures", "graph"):
        return _analysis(command, args)

    from experiments import commands
    from experiments.catalog import discover, select

    if command in ("run", "test-all", "sweep"):
        from experiments.runner import Runner

        cli = {setting: getattr(args, flag.lstrip("-").replace("-", "_")) for flag, (setting, _) in RUN_FLAGS.items()}
        cli.update(MEASURE_MEMORY=args.MEASURE_MEMORY, KEEP_CAPTURES=args.KEEP_CAPTURES,
                   KEEP_SCHEMA=args.KEEP_SCHEMA, CONTENTION=args.CONTENTION,
                   PG_SETTINGS=";".join(args.pg_setting) if args.pg_setting else None)
        if command != "sweep":
            return Runner(_settings(cli)).run()
        from experiments.sweep import parse_list, run_sweep

        settings = _settings(dict(cli, TOTAL_ITEMS=None, TOTAL_THREADS=None))
        items = parse_list(cli["TOTAL_ITEMS"] or str(settings.items), "--items")
        threads = parse_list(cli["TOTAL_THREADS"] or str(settings.threads), "--threads")
        return run_sweep(settings, items, threads)
    if command == "compare":
        from analysis.compare import compare, render, slower

        table = compare(_results_dir(args.results_dir), args.a, args.b, args.alpha)
        print(render(table, args.a, args.b))
        if args.fail_on_slower:
            regressions = slower(table, args.fail_on_slower)
            if regressions:
                print(f"significantly slower: {', '.join(regressions)}", file=sys.stderr)
                return 1
        return 0
    if command == "describe":
        settings = _settings({"STRATEGIES": args.strategies, "STRATEGIES_DIR": args.strategies_dir})
        strategies = select(discover(settings.path(settings.strategies_dir)), settings.strategies)
        print(commands.describe(strategies), end="")
        return 0
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
