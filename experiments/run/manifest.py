"""`manifest.json`: everything needed to reproduce or question a run, as a
`contract.manifest.Manifest` (the model the analysis and `--from` read back), and the
environment snapshot in it (machine, packages, each strategy's file and size).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import psutil

from contract.manifest import (AutoRepeat, Comprehensibility, Concurrency, Git, Machine, Manifest,
                               Packages, RepeatReport, RerunOf, Server, StrategyEntry, Sweep)
from contract.row import FOREIGN_LOAD_RULE, under_foreign_load
from experiments import REPO_ROOT
from experiments.comprehensibility import measure
from experiments.run.schedule import MIN_ROUNDS, MIN_ROUNDS_CHEAP

LOCK_FILE = REPO_ROOT / "locks" / "bench.txt"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, list[str]]:
    """Package -> versions pinned in the lock file (several when markers split by Python)."""
    pins: dict[str, list[str]] = {}
    if LOCK_FILE.exists():
        for line in LOCK_FILE.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
            if match:
                pins.setdefault(_normal(match[1]), []).append(match[2])
    return pins


def packages() -> dict:
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()
                 if d.metadata["Name"]}
    pins = lock_pins()
    differs = {name: {"installed": installed.get(name), "lock": versions}
               for name, versions in pins.items()
               if name in installed and installed[name] not in versions}
    return {
        "lock_file": str(LOCK_FILE.relative_to(REPO_ROOT)),
        "lock_sha256": hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.exists() else None,
        "installed": dict(sorted(installed.items())),
        "differs_from_lock": differs,
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        import subprocess

        out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    return platform.processor() or platform.machine()


def machine() -> dict:
    memory = psutil.virtual_memory()
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "os": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(memory.total / 1e9, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "user_is_root": hasattr(os, "geteuid") and os.geteuid() == 0,
    }


def strategy_entry(strategy) -> StrategyEntry:
    """What the manifest records of a strategy: the analysis reads its size from here, never
    from the file (which may have changed since the run)."""
    path = strategy.path
    try:
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        sha256 = None
    measured = measure(path)
    return StrategyEntry(
        name=strategy.name, title=strategy.title, tags=strategy.tags,
        file=str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path),
        sha256=sha256, comprehensibility=Comprehensibility(**measured.as_dict()) if measured else None)


def run_manifest(run, resolved: dict[str, str], finished: bool = False) -> Manifest:
    """The manifest of `run` (an `experiments.run.runner.Runner`) as it stands; `resolved`: the
    settings the run decided (its seed, the versions `newest` meant); `finished`: stamp the end."""
    s = run.settings
    return Manifest(
        run_id=run.run_id,
        started_at=run.started_at.isoformat(),
        finished_at=datetime.now(timezone.utc).isoformat() if finished else None,
        seed=run.seed,
        config={name: value for name, (value, _) in s.as_env(resolved).items()},
        config_sources=dict(s.sources),
        items=s.items, threads=s.threads,
        thread_counts=s.thread_counts if s.interleaves_threads else None,
        latencies=None if s.latencies == (None,) else s.latencies, repeat=s.repeat or "auto", timeout_s=s.timeout,
        auto_repeat=None if s.repeat else AutoRepeat(budget_s=s.budget, target_pct=s.target,
                                                     min_repeat=MIN_ROUNDS, min_repeat_cheap=MIN_ROUNDS_CHEAP,
                                                     max_repeat=s.max_repeat),
        repeats={label: {name: RepeatReport.from_dict(entry) for name, entry in report.items()}
                 for label, report in run.repeats.items()},  # per server, per strategy
        slow_rounds={label: {phase: tuple(rounds) for phase, rounds in found.items()}
                     for label, found in run.slow_rounds.items()},
        measure_memory=s.measure_memory, memory_repeats=s.memory_repeats if s.measure_memory else 0,
        timing=f"duration from a plain process; memory from a second, memray-tracked process of "
               f"the same pass (both verified) in the first {s.memory_repeats} repeat(s)"
               if s.measure_memory else "duration from a plain process; memory not measured",
        strategies=tuple(strategy_entry(st) for st in run.strategies),
        servers=tuple(Server.from_dict(info) for info in run.servers),  # a backend's own keys: extra
        checkpoint_before_pass=run.checkpoint_ok,
        git=Git.from_dict(run.git),
        machine=Machine.from_dict(machine()),
        packages=Packages.from_dict(packages()),
        rows=len(run.rows),
        sweep=Sweep.from_dict(run.sweep) if run.sweep else None,
        rerun_of=RerunOf.from_dict(run.rerun_of) if run.rerun_of else None,
        contention=s.contention,
        cpu_split="main-only",
        concurrency=Concurrency.from_dict(dict(
            run.concurrency, foreign_load_rule=FOREIGN_LOAD_RULE,
            passes_under_foreign_load=sum(under_foreign_load(r.foreign_cpu_s, r.wall_s) for r in run.rows)
            if finished else None)) if run.concurrency else None,
    )
