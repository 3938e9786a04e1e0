"""`python -m analysis <command>`: figures (graph), publish, aggregate, correlate, compare.

The analysis reads run folders (results.csv, manifest.json) and nothing of the harness.
`python -m experiments figures ...` (and the other names) still works: the harness hands these
commands to this entry point. Every bad input ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time

from analysis.run_folders import FIGURES_DIR, LATEST, has_runs, published_sets, selected_folders
from contract import REPO_ROOT
from contract.envfile import in_repo, results_dir
from contract.errors import OneLineParser, UsageError, exit_status


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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
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
        sub.add_argument("--allow-mixed", action="store_true",
                         help="pool runs of different commits, Python versions or lock files "
                              "(default: only the newest run's)")
        if name == "figures":
            sub.add_argument("--out", help="draw the selected runs into this folder only (default: "
                                            "every published set under figures/ rebuilt from its own "
                                            "runs, and your runs into figures/latest/)")
    commands.add_parser("graph", help="the original's name for `figures`").set_defaults(
        runs=None, since=None, items=None, results_dir=None, out=None, sweep=None, allow_mixed=False)
    publish = commands.add_parser("publish", help="copy runs into figures/NAME/runs and draw the set there")
    publish.add_argument("name", help="the set's folder under figures/ (e.g. main, sweep)")
    publish.add_argument("--runs", help="run ids or globs, comma-separated (default: the newest "
                                        "run's lineage: same commit, Python and lock file)")
    publish.add_argument("--results-dir", help="where the run folders are (RESULTS_DIR)")
    publish.add_argument("--figures", metavar="KINDS",
                         help="only these figure kinds, comma-separated (e.g. versions,x_floor; "
                              "default every kind)")

    compare = commands.add_parser("compare", help="compare two runs (or two servers of one run)")
    compare.add_argument("a", help="run id or glob, optionally RUN:SERVER (e.g. RUN:embedded:16)")
    compare.add_argument("b", help="the run to compare with A")
    compare.add_argument("--fail-on-slower", metavar="NAMES",
                         help="exit 1 if one of these strategies (names or globs) got significantly slower")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    compare.add_argument("--results-dir", help="where the run folders are (RESULTS_DIR)")
    return parser


def _echo(line: str) -> None:
    print(line, file=sys.stderr)


def _listed(written, out, started: float) -> int:
    for path in written:
        print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
    print(f"{len(written)} files in {out} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


def _figures(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = in_repo(args.out) if args.out else None
    chosen = args.runs or args.since or args.items or args.sweep or out or args.results_dir
    source = results_dir(args.results_dir)
    # what is missing is said before pandas loads
    if chosen:
        selected_folders(source, args.runs, args.since)
    elif not has_runs(source) and not published_sets():
        raise UsageError(f"no runs in {source} and no published set under {FIGURES_DIR}: run `make bench` first")
    from analysis.build import build
    from analysis.publish import rebuild_all

    written = [] if chosen else rebuild_all(echo=_echo)
    if chosen or has_runs(source):
        written += build(source, out or FIGURES_DIR / LATEST, args.runs, args.since,
                         args.items, echo=_echo, sweep=args.sweep, allow_mixed=args.allow_mixed)
    return _listed(written, out or FIGURES_DIR, started)


def _publish(args: argparse.Namespace) -> int:
    selected_folders(results_dir(args.results_dir), args.runs)  # before pandas loads
    from analysis.publish import publish

    started = time.perf_counter()
    kinds = [k.strip() for k in args.figures.split(",") if k.strip()] if args.figures else None
    written = publish(args.name, results_dir(args.results_dir), args.runs, echo=_echo, kinds=kinds)
    return _listed(written, FIGURES_DIR / args.name, started)


def _table(args: argparse.Namespace) -> int:
    selected_folders(results_dir(args.results_dir), args.runs, args.since)  # before pandas loads
    from analysis.aggregate import aggregate
    from analysis.correlate import correlate
    from analysis.load import load_runs

    loaded = load_runs(results_dir(args.results_dir), args.runs, args.since, args.items,
                       warn=_echo, sweep=args.sweep,
                       allow_mixed=args.allow_mixed)
    table = aggregate(loaded.passes)
    if args.command == "correlate":
        table = correlate(table)
    table.to_csv(sys.stdout, index=False, float_format="%.6g", lineterminator="\n")
    return 0


def _compare(args: argparse.Namespace) -> int:
    for side in (args.a, args.b):  # RUN or RUN:SERVER
        selected_folders(results_dir(args.results_dir), side.partition(":")[0])  # before pandas loads
    from analysis.compare import compare, render, slower

    table = compare(results_dir(args.results_dir), args.a, args.b, args.alpha)
    print(render(table, args.a, args.b))
    if args.fail_on_slower:
        regressions = slower(table, args.fail_on_slower)
        if regressions:
            print(f"significantly slower: {', '.join(regressions)}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return exit_status(lambda: _run(build_parser().parse_args(argv)))


def _run(args: argparse.Namespace) -> int:
    if args.command in ("figures", "graph"):
        return _figures(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "publish":
        return _publish(args)
    return _table(args)


if __name__ == "__main__":
    sys.exit(main())
