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

from dataclasses import dataclass
from pathlib import Path

from contract.envfile import read_env_file, results_dir
from contract.errors import UsageError
from contract.manifest import Git, Machine, Manifest, Packages
from experiments.settings_table import NOT_REPEATED  # settings with repeated=False: not taken

MACHINE = ("cpu_model", "cpu_count", "memory_gb", "python", "os")  # Machine fields compared


@dataclass(frozen=True)
class Original:
    folder: Path
    manifest: Manifest
    settings: dict[str, str]  # setting name -> value, the layer `load_settings` puts under the flags

    @property
    def run_id(self) -> str:
        return self.manifest.run_id or self.folder.name


def find(where: str) -> Path:
    """A run folder given as a path, or as a run id under RESULTS_DIR."""
    for folder in (Path(where).expanduser(), results_dir() / where):
        if (folder / "manifest.json").is_file() or (folder / "config.env").is_file():
            return folder.resolve()
    raise UsageError(f"--from {where}: not a run folder (no manifest.json or config.env there, "
                     f"nor under {results_dir()})")


def load(where: str, dsn_given: bool = False) -> Original:
    folder = find(where)
    manifest = Manifest.load(folder)  # none (or unreadable): config.env has the settings
    settings = dict(manifest.config or read_env_file(folder / "config.env"))
    if settings.get("DATABASE_URL") and not dsn_given:
        raise UsageError(f"--from {folder.name}: the original ran against a server given by --dsn, "
                         "whose password the run folder does not keep; give --dsn for a server like it")
    names = [s.name for s in manifest.strategies if s.name]
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
    """Lines naming what differs between the original's manifest and `now` (a manifest's git,
    machine and packages as the harness records them now, and `diff`, the text a run folder's
    git.diff would hold now), or one line saying nothing does."""
    lines = []
    before_git, now_git = original.manifest.git, Git.from_dict(now.get("git"))

    def commit(git: Git) -> str:
        return (git.commit or "unknown")[:10] + (" (uncommitted changes)" if git.dirty else "")

    same_changes = not before_git.dirty or now.get("diff") == _read(original.folder / "git.diff")
    if commit(before_git) != commit(now_git) or not same_changes:
        lines.append(f"commit: {commit(before_git)} -> {commit(now_git)}"
                     + ("" if same_changes else ", other uncommitted changes"))
    before_machine, now_machine = original.manifest.machine, Machine.from_dict(now.get("machine"))
    for key in MACHINE:
        before, after = getattr(before_machine, key), getattr(now_machine, key)
        if str(before) != str(after):
            lines.append(f"{key}: {before} -> {after}")
    before_packages = original.manifest.packages.installed
    now_packages = Packages.from_dict(now.get("packages")).installed
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

