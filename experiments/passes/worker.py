"""One pass of one strategy, in its own process: `python -m experiments.passes.worker ...`.

The runner starts this module once per pass (plain for timing, under `memray run` for memory).
It imports the strategy file, builds the `Workload` (the input rows are built before the timer
starts, unless the strategy streams them), times `main(work)` alone, and writes one JSON line
`{"duration_s": ..., "error": ...}` to the `--result` file. The DSN arrives in the environment
(DATABASE_URL), never in argv, which `ps` shows to every user; `--schema` is the run's schema
(`work.schema`, which `work.table()` qualifies every table name with). Everything else about the
pass arrives once, in argv (`--items`, `--threads`, `--phase`, `--schema`).

Seed compatibility: a `def main(total: int)` strategy gets `work.items` and reads the DSN, the
thread count, the schema and the phase from `experiments.config.CONFIG`, which reads the
environment: `tell_config` copies the argv values there before the strategy is imported.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import inspect
import json
import os
import resource
import select
import sys
import time
from pathlib import Path

from contract.workload import PHASES, Keys, Workload
from experiments import ENV_PREFIX, GO_FILE_ENV, MARK_ANSWER_TIMEOUT_S, MARKS_ENV


def one_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def load_strategy(path: Path):
    spec = importlib.util.spec_from_file_location(f"strategy_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def is_seed_style(entry) -> bool:
    """True for the original project's `def main(total: int)` signature."""
    try:
        params = list(inspect.signature(entry).parameters.values())
    except (TypeError, ValueError):
        return False
    if len(params) != 1:
        return False
    return params[0].annotation in (int, "int") or params[0].name in ("total", "total_items")


def tell_config(phase: str, items: int, threads: int, schema: str) -> None:
    """The pass's values where `experiments.config.CONFIG` reads them (seed-style strategies),
    in this process's environment, over whatever the harness's held: argv is the one channel
    from the harness; this copy is derived from it before the strategy's module is imported."""
    os.environ.update({ENV_PREFIX + "TOTAL_ITEMS": str(items), ENV_PREFIX + "TOTAL_THREADS": str(threads),
                       ENV_PREFIX + "SCHEMA": schema, "BENCH_PHASE": phase})


def run(strategy_file: Path, phase: str, items: int, threads: int, schema: str = "public", **shape) -> dict:
    """One timed call of the strategy's main(); `shape` is the Workload's table_rows, hit_ratio
    and duplicate_keys (their defaults when absent)."""
    marks.take()
    tell_config(phase, items, threads, schema)
    try:
        module = load_strategy(strategy_file)
    except BaseException as error:  # SyntaxError, ImportError, anything a module body raises
        return {"duration_s": None, "error": f"import failed: {one_line(error)}"}
    entry = getattr(module, "main", None)
    if not callable(entry):
        return {"duration_s": None, "error": "strategy has no main() function"}
    work = Workload(dsn=os.environ.get(ENV_PREFIX + "DATABASE_URL", ""), items=items, phase=phase,
                    threads=threads, schema=schema, **shape)
    tags = getattr(module, "TAGS", {}) or {}
    if not (tags.get("streaming") or tags.get("reference")):
        work.users(), work.addresses()  # the input exists before the clock starts
    argument = work.items if is_seed_style(entry) else work
    gc.collect()
    marks.mark("start")  # the harness reads the server's CPU; the clock starts after its answer
    if os.environ.get(GO_FILE_ENV):  # contention mode: the second writer starts now too
        Path(os.environ[GO_FILE_ENV]).touch()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    try:
        entry(argument)
    except BaseException as error:
        duration, client = time.perf_counter() - started, _cpu_seconds() - cpu
        marks.mark("end")
        return {"duration_s": duration, "client_cpu_s": client, "error": one_line(error)}
    duration, client = time.perf_counter() - started, _cpu_seconds() - cpu
    marks.mark("end")  # after the clock stopped; the harness reads the server's CPU again
    return {"duration_s": duration, "client_cpu_s": client, "peak_rss_mb": _peak_rss_mb(), "error": ""}


class _Marks:
    """The worker's side of the marks (experiments.process._MarkPipes): tell the harness that
    main() starts or has ended, and wait for its answer (at most MARK_ANSWER_TIMEOUT_S). Only the
    timed process marks: the harness gives it the pipes in MARKS_ENV, taken out of the
    environment (and kept from children) before the strategy is imported."""

    def __init__(self) -> None:
        self.fds: tuple[int, int] | None = None

    def take(self) -> None:
        text = os.environ.pop(MARKS_ENV, "")
        if text:
            write, read = (int(fd) for fd in text.split(","))
            for fd in (write, read):
                os.set_inheritable(fd, False)
            self.fds = (write, read)

    def mark(self, what: str) -> None:
        if self.fds is None:
            return
        write, read = self.fds
        try:
            os.write(write, f"{what}\n".encode())
            if select.select([read], [], [], MARK_ANSWER_TIMEOUT_S)[0]:
                os.read(read, 64)
        except OSError:  # the harness is gone (this process is about to be killed with it)
            pass
        if what == "end":
            for fd in self.fds:
                os.close(fd)
            self.fds = None


marks = _Marks()


def _peak_rss_mb() -> float | None:
    """This process's own peak resident memory (Linux: VmHWM of its address space since exec).
    `wait4`'s ru_maxrss cannot give it: Linux carries the forked copy of the parent's resident
    size across exec into it, so every worker would report at least the harness's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def _cpu_seconds() -> float:
    """CPU time of this process (every thread, user + system) and of its children it waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def worker_argv(strategy_file: Path, phase: str, keys: Keys, threads: int, schema: str, result: Path) -> list[str]:
    """`-m` and what follows it: the module and the pass's values (the harness's side of `main`).
    Items, threads, phase and schema go in argv only: the worker gives them to CONFIG itself."""
    return ["experiments.passes.worker", "--strategy-file", str(strategy_file), "--phase", phase,
            "--items", str(keys.items), "--threads", str(threads), "--result", str(result), "--schema", schema,
            "--table-rows", str(keys.table_rows), "--hit-ratio", str(keys.hit_ratio),
            "--duplicate-keys", str(keys.duplicate_keys)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.passes.worker")
    parser.add_argument("--strategy-file", type=Path, required=True)
    parser.add_argument("--phase", choices=PHASES, required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--schema", default="public", help="the run's schema (work.schema)")
    parser.add_argument("--table-rows", type=int, default=0)
    parser.add_argument("--hit-ratio", type=float, default=0.5)
    parser.add_argument("--duplicate-keys", type=float, default=0.0)
    args = parser.parse_args(argv)
    result = run(args.strategy_file, args.phase, args.items, args.threads, args.schema,
                 table_rows=args.table_rows, hit_ratio=args.hit_ratio, duplicate_keys=args.duplicate_keys)
    args.result.write_text(json.dumps(result) + "\n")
    return 1 if result["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
