"""`run --from <run folder>`: the same experiment again, and what differs from the original.

The original's settings come from its manifest (`config`: every setting as the run resolved it,
the seed it drew and the server version `newest` meant), falling back to its `config.env`; the
strategies are the ones it ran, by name. They override `.env` and the environment (a stale
`UPSERT_BENCH_*` must not change a re-run silently); flags given with `--from` still win. What
cannot be re-created is refused with one line: a `--dsn` server (the URL is redacted in the run
folder), or a strategy that no longer exists. Everything else that may differ (commit, machine,
Python, packages) is printed before the run starts; the servers' exact versions are in both
manifests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from contract.envfile import read_env_file, results_dir
from contract.errors import UsageError

NOT_REPEATED = {"RESULTS_DIR", "DATABASE_URL", "SCHEMA", "KEEP_CAPTURES", "KEEP_SCHEMA"}
MACHINE = ("cpu_model", "cpu_count", "memory_gb", "python", "os")


@dataclass(frozen=True)
class Original:
    folder: Path
    manifest: dict
    settings: dict[str, str]  # setting name -> value, the layer `load_settings` puts under the flags

    @property
    def run_id(self) -> str:
        return self.manifest.get("run_id") or self.folder.name


def find(where: str) -> Path:
    """A run folder given as a path, or as a run id under RESULTS_DIR."""
    for folder in (Path(where).expanduser(), results_dir() / where):
        if (folder / "manifest.json").is_file() or (folder / "config.env").is_file():
            return folder.resolve()
    raise UsageError(f"--from {where}: not a run folder (no manifest.json or config.env there, "
                     f"nor under {results_dir()})")


def load(where: str, dsn_given: bool = False) -> Original:
    folder = find(where)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}
    settings = dict(manifest.get("config") or read_env_file(folder / "config.env"))
    if settings.get("DATABASE_URL") and not dsn_given:
        raise UsageError(f"--from {folder.name}: the original ran against a server given by --dsn, "
                         "whose password the run folder does not keep; give --dsn for a server like it")
    names = [s["name"] for s in manifest.get("strategies", []) if s.get("name")]
    if names:
        settings["STRATEGIES"] = ",".join(names)
    kept = {k: v for k, v in settings.items() if k not in NOT_REPEATED}
    if not settings.get("DATABASE_URL"):
        kept["DATABASE_URL"] = ""  # a server of its own, as the original: not one the environment names
    return Original(folder, manifest, kept)


def check_strategies(original: Original, available: list[str]) -> None:
    missing = sorted(set(original.settings.get("STRATEGIES", "").split(",")) - set(available) - {""})
    if missing:
        raise UsageError(f"--from {original.run_id}: strategy {', '.join(missing)} of the original run "
                         "no longer exists here")


def differences(original: Original, now: dict) -> list[str]:
    """Lines naming what differs between the original's manifest and `now` (the same keys:
    git, machine, packages, and `diff`, the text a run folder's git.diff would hold now), or
    one line saying nothing does."""
    lines = []
    before_git, now_git = original.manifest.get("git", {}), now.get("git", {})

    def commit(git: dict) -> str:
        return (git.get("commit") or "unknown")[:10] + (" (uncommitted changes)" if git.get("dirty") else "")

    same_changes = not before_git.get("dirty") or now.get("diff") == _read(original.folder / "git.diff")
    if commit(before_git) != commit(now_git) or not same_changes:
        lines.append(f"commit: {commit(before_git)} -> {commit(now_git)}"
                     + ("" if same_changes else ", other uncommitted changes"))
    before_machine, now_machine = original.manifest.get("machine", {}), now.get("machine", {})
    for key in MACHINE:
        if str(before_machine.get(key)) != str(now_machine.get(key)):
            lines.append(f"{key}: {before_machine.get(key)} -> {now_machine.get(key)}")
    before_packages = original.manifest.get("packages", {}).get("installed", {})
    now_packages = now.get("packages", {}).get("installed", {})
    changed = [f"{name} {before_packages.get(name, '-')} -> {now_packages.get(name, '-')}"
               for name in sorted(set(before_packages) | set(now_packages))
               if before_packages.get(name) != now_packages.get(name)]
    if changed:
        lines.append("packages: " + ", ".join(changed))
    if not lines:
        return [f"re-running {original.run_id}: same commit, machine and packages"]
    return [f"re-running {original.run_id}; differs from the original:"] + ["  " + line for line in lines]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None

