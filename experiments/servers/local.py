"""`--pg local[:<major>]` / `--pg-bin DIR`: PostgreSQL binaries already on this machine.

Same throwaway-cluster lifecycle as the embedded backend (`cluster.Cluster`), with `initdb` and
`postgres` found in `--pg-bin`, on PATH, or where distributions put them (Debian and Ubuntu:
/usr/lib/postgresql/<major>/bin; Homebrew; /usr/local/pgsql/bin). This is how to benchmark
PostgreSQL 15 — the oldest version with MERGE — where the embedded package ships only newer ones.
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

from contract.errors import UsageError
from experiments.servers.cluster import binary_version

SEARCH = ["/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql@*/bin",
          "/usr/local/opt/postgresql@*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin",
          "/Applications/Postgres.app/Contents/Versions/*/bin"]


def candidate_dirs() -> list[Path]:
    found = []
    on_path = shutil.which("postgres") or shutil.which("initdb")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    for pattern in SEARCH:
        found += [Path(p) for p in sorted(glob.glob(pattern))]
    unique = []
    for folder in found:
        if folder not in unique and (folder / "postgres").exists() and (folder / "initdb").exists():
            unique.append(folder)
    return unique


def local_versions() -> dict[str, Path]:
    """Major version -> bin folder of every local installation found (first one wins)."""
    versions: dict[str, Path] = {}
    for folder in candidate_dirs():
        version = binary_version(folder)
        if version:
            versions.setdefault(version.split(".")[0], folder)
    return dict(sorted(versions.items(), key=lambda kv: int(kv[0])))


def bin_dir(major: str = "", explicit: str = "") -> tuple[Path, str]:
    """(bin folder, full version) for `--pg-bin DIR` or `--pg local[:major]`."""
    if explicit:
        folder = Path(explicit).expanduser()
        if not (folder / "initdb").exists() or not (folder / "postgres").exists():
            raise UsageError(f"--pg-bin {explicit}: no initdb and postgres in that folder")
        version = binary_version(folder)
        if not version:
            raise UsageError(f"--pg-bin {explicit}: its postgres does not run")
        if major and version.split(".")[0] != major:
            raise UsageError(f"--pg-bin {explicit} holds PostgreSQL {version}, not {major}")
        return folder, version
    versions = local_versions()
    if not versions:
        raise UsageError("--pg local: no PostgreSQL binaries found (looked on PATH and in "
                         f"{', '.join(SEARCH[:3])}, ...); pass --pg-bin DIR")
    if major and major not in versions:
        raise UsageError(f"--pg local:{major}: found only {', '.join(versions)} "
                         f"({', '.join(str(p) for p in versions.values())})")
    chosen = versions[major] if major else versions[list(versions)[-1]]
    return chosen, binary_version(chosen) or ""
