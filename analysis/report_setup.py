"""REPORT.md's setup section: the runs, machine, server and its settings, the repeats each
strategy got and why it stopped, the packages and the method, from the runs' manifests."""

from __future__ import annotations

from analysis.stats import DURATION_INTERVAL
from contract.libraries import report_packages

PACKAGES = report_packages()  # the libraries' packages, in registry order, then the harness's tools


def setup_section(manifests: dict[str, dict]) -> list[str]:
    first = next(iter(manifests.values()), {})
    machine = first.get("machine", {})
    starts = sorted(m.get("started_at", "")[:10] for m in manifests.values() if m.get("started_at"))
    commits = sorted({(m.get("git", {}).get("commit") or "unknown")[:10]
                      + (" (modified)" if m.get("git", {}).get("dirty") else "") for m in manifests.values()})
    versions = sorted({f"{s.get('server_version', '?')} ({s.get('kind', '?')})"
                       for m in manifests.values() for s in m.get("servers", [])})
    installed = first.get("packages", {}).get("installed", {})
    lines = [
        "## Setup", "",
        f"- **Runs:** {len(manifests)} ({', '.join(sorted(manifests))}), "
        + (f"{starts[0]}" if starts and starts[0] == starts[-1] else
           f"{starts[0]} to {starts[-1]}" if starts else "?")
        + f"; commit {', '.join(commits)}.",
        f"- **Machine:** {machine.get('cpu_model', '?')}, {machine.get('cpu_count', '?')} CPUs, "
        f"{machine.get('memory_gb', '?')} GB, {machine.get('os', '?')}; Python {machine.get('python', '?')}.",
        f"- **PostgreSQL:** {'; '.join(versions) or '?'}, a fresh server per run; settings: "
        f"{server_settings(manifests)} (the rest initdb's defaults; all in each run's manifest).",
        f"- **Repeats:** {repeats_line(manifests)}.",
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


def server_settings(manifests: dict[str, dict]) -> str:
    """The settings that move upsert numbers, as the servers reported them, and any requested."""
    seen: dict[str, set] = {}
    for manifest in manifests.values():
        for server in manifest.get("servers", []):
            values = server.get("non_default_settings") or {}
            for name in SHOWN_SETTINGS:
                entry = values.get(name)
                if entry:
                    scale = UNITS.get(entry.get("unit") or "")
                    text = (f"{float(entry['setting']) * scale:g} MB" if scale and entry["setting"].isdigit()
                            else str(entry["setting"]))
                    seen.setdefault(name, set()).add(text)
            for name, value in (server.get("requested_settings") or {}).items():
                seen.setdefault(name, set()).add(f"{value} (requested)")
    return ", ".join(f"{name} {' / '.join(sorted(v))}" for name, v in seen.items()) or "initdb's defaults"


def repeats_line(manifests: dict[str, dict]) -> str:
    """How many repeats each strategy got and why it stopped, from the runs' own records."""
    counts, reasons, modes = [], {}, set()
    for manifest in manifests.values():
        modes.add(f"auto, target +-{manifest['auto_repeat']['target_pct']:g}%, budget "
                  f"{manifest['auto_repeat']['budget_s']} s" if manifest.get("auto_repeat")
                  else f"fixed {manifest.get('repeat', '?')}")
        for per_strategy in (manifest.get("repeats") or {}).values():
            for entry in per_strategy.values():
                counts.append(entry.get("repeats", 0))
                reason = entry.get("stopped") or "?"
                reasons[reason] = reasons.get(reason, 0) + 1
    if not counts:
        return "as many as each run's results.csv holds (" + "; ".join(sorted(modes)) + ")"
    span = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
    return f"{span} per strategy and server ({'; '.join(sorted(modes))}; stopped: {why})"
