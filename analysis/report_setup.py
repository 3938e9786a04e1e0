"""REPORT.md's setup section: the runs, machine, server and its settings, the repeats each
strategy got and why it stopped, the packages and the method, from the runs' manifests."""

from __future__ import annotations

from analysis.load import known
from analysis.stats import DURATION_INTERVAL
from contract.libraries import report_packages
from contract.manifest import Manifest

PACKAGES = report_packages()  # the libraries' packages, in registry order, then the harness's tools


def setup_section(manifests: dict[str, Manifest]) -> list[str]:
    first = next(iter(manifests.values()), Manifest())
    machine = first.machine
    starts = sorted(m.started_at[:10] for m in manifests.values() if m.started_at)
    commits = sorted({(m.git.commit or "unknown")[:10] + (" (modified)" if m.git.dirty else "")
                      for m in manifests.values()})
    versions = sorted({f"{known(s.server_version)} ({known(s.kind)})"
                       for m in manifests.values() for s in m.servers})
    installed = first.packages.installed
    lines = [
        "## Setup", "",
        f"- **Runs:** {len(manifests)} ({', '.join(sorted(manifests))}), "
        + (f"{starts[0]}" if starts and starts[0] == starts[-1] else
           f"{starts[0]} to {starts[-1]}" if starts else "?")
        + f"; commit {', '.join(commits)}.",
        f"- **Machine:** {known(machine.cpu_model)}, {known(machine.cpu_count)} CPUs, "
        f"{known(machine.memory_gb)} GB, {known(machine.os)}; Python {known(machine.python)}.",
        f"- **PostgreSQL:** {'; '.join(versions) or '?'}, a fresh server per run; settings: "
        f"{server_settings(manifests)} (the rest initdb's defaults; all in each run's manifest).",
        f"- **Repeats:** {repeats_line(manifests)}.",
        f"- **Alone on the machine:** {alone_line(manifests)}.",
        "- **Packages:** " + ", ".join(f"{p} {installed[p]}" for p in PACKAGES if p in installed) + ".",
        "- **Method:** every pass (strategy x phase x repeat) runs from the same canonical "
        "starting state in a fresh process, timed over `main()`; in the first repeat (or more with "
        "`--memory-repeats`) it runs once more beforehand, in a process of its own under memray's "
        "tracker, for peak memory. Every process must write exactly the expected values "
        "(checksum of every column of every row). Strategy order is shuffled per repeat; durations "
        f"are summarised as geometric means with their {DURATION_INTERVAL}.",
        "",
    ]
    return lines


SHOWN_SETTINGS = ("shared_buffers", "max_wal_size", "max_connections", "synchronous_commit", "fsync")
UNITS = {"8kB": 8 / 1024, "MB": 1, "kB": 1 / 1024}


def server_settings(manifests: dict[str, Manifest]) -> str:
    """The settings that move upsert numbers, as the servers reported them, and any requested."""
    seen: dict[str, set] = {}
    for manifest in manifests.values():
        for server in manifest.servers:
            for name in SHOWN_SETTINGS:
                entry = server.non_default_settings.get(name)
                if entry:
                    scale = UNITS.get(entry.unit or "")
                    text = (f"{float(entry.setting) * scale:g} MB" if scale and entry.setting.isdigit()
                            else str(entry.setting))
                    seen.setdefault(name, set()).add(text)
            for name, value in (server.requested_settings or {}).items():
                seen.setdefault(name, set()).add(f"{value} (requested)")
    return ", ".join(f"{name} {' / '.join(sorted(v))}" for name, v in seen.items()) or "initdb's defaults"


def alone_line(manifests: dict[str, Manifest]) -> str:
    """Whether the runs had the machine to themselves: the one-run-at-a-time lock (a run started
    with --allow-concurrent beside another says so) and the passes other processes' CPU made
    suspect (the manifests' `concurrency`)."""
    recorded = {run: m.concurrency for run, m in manifests.items() if m.concurrency is not None}
    if not recorded:
        return "not recorded (runs from before the one-run-at-a-time lock)"
    beside = sorted(run for run, c in recorded.items() if c.allowed and c.other_run)
    unlocked = sorted(run for run, c in recorded.items() if c.allowed and not c.other_run)
    loaded = sum(c.passes_under_foreign_load or 0 for c in recorded.values())
    parts = [f"{len(recorded) - len(beside) - len(unlocked)} of {len(manifests)} runs held the "
             "one-run-at-a-time lock"]
    if beside:
        parts.append(f"**{', '.join(beside)} ran beside another run** (--allow-concurrent): "
                     "their durations are not comparable")
    if unlocked:
        parts.append(f"{', '.join(unlocked)} ran with --allow-concurrent, no other run holding the lock")
    parts.append(f"{loaded} passes ran under foreign load (other processes took more than 10% of a CPU "
                 "core meanwhile: their durations are suspect)" if loaded else
                 "no pass ran under foreign load (other processes took under 10% of a CPU core)")
    return "; ".join(parts)


def repeats_line(manifests: dict[str, Manifest]) -> str:
    """How many repeats each strategy got and why it stopped, from the runs' own records."""
    counts, reasons, modes = [], {}, set()
    for manifest in manifests.values():
        auto = manifest.auto_repeat
        modes.add(f"auto, target +-{auto.target_pct:g}%, budget {auto.budget_s} s" if auto
                  else f"fixed {known(manifest.repeat)}")
        for per_strategy in manifest.repeats.values():
            for entry in per_strategy.values():
                counts.append(entry.repeats)
                reason = entry.stopped or "?"
                reasons[reason] = reasons.get(reason, 0) + 1
    if not counts:
        return "as many as each run's results.csv holds (" + "; ".join(sorted(modes)) + ")"
    span = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
    return f"{span} per strategy and server ({'; '.join(sorted(modes))}; stopped: {why})"
