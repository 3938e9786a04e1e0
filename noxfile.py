"""Sessions: bench, tests, figures, clean, describe, lock. `make <target>` are thin aliases.

Every session that needs the project's packages installs them from `locks/bench.txt`, which
pins every exact version with hashes (regenerate it with `nox -s lock`). With uv available
(`make` bootstraps it next to nox) the environments are built by uv in seconds; otherwise nox
falls back to virtualenv + pip. Environments are reused between runs and re-synced to the
lock each time, which costs well under a second when nothing changed.

Arguments after `--` go to the command: `nox -s bench -- --repeat 5 --items 100000`.
"""

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

LOCK = "locks/bench.txt"
BOOTSTRAP_LOCK = "locks/bootstrap.txt"


def install_locked(session: nox.Session) -> None:
    """Make the session's environment exactly the lock file (hash-checked)."""
    if session.venv_backend == "uv":
        session.run_install("uv", "pip", "sync", "--quiet", "--require-hashes", LOCK)
    else:
        session.install("--quiet", "--require-hashes", "-r", LOCK)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every strategy, insert pass then update pass, into results/<run_id>/."""
    install_locked(session)
    session.run("python", "-m", "experiments", "run", *session.posargs)


@nox.session
def sweep(session: nox.Session) -> None:
    """The scaling grid: nox -s sweep -- --items 1000,10000,100000 --threads 1,2,4,8 --repeat 3."""
    install_locked(session)
    session.run("python", "-m", "experiments", "sweep", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """Compare two runs: nox -s compare -- RUN_A RUN_B [--fail-on-slower 'psycopg*']."""
    install_locked(session)
    session.run("python", "-m", "analysis", "compare", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against a real PostgreSQL it starts itself."""
    install_locked(session)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def figures(session: nox.Session) -> None:
    """Rebuild the published sets in figures/ from their runs; draw results/ into figures/latest/."""
    install_locked(session)
    session.run("python", "-m", "analysis", "figures", *session.posargs)


@nox.session
def publish(session: nox.Session) -> None:
    """Copy runs into figures/NAME/runs and draw the set: nox -s publish -- main [--runs IDS]."""
    install_locked(session)
    session.run("python", "-m", "analysis", "publish", *session.posargs)


@nox.session
def describe(session: nox.Session) -> None:
    """Print the strategy catalogue as Markdown."""
    install_locked(session)
    session.run("python", "-m", "experiments", "describe", *session.posargs)


@nox.session
def clean(session: nox.Session) -> None:
    """Remove run folders, memray captures, leftover servers, containers and data (never figures/)."""
    install_locked(session)
    session.run("python", "-m", "experiments", "clean", *session.posargs)


@nox.session(venv_backend="uv")
def lock(session: nox.Session) -> None:
    """Re-resolve the lock files from pyproject.toml (universal: every OS, Python 3.10+)."""
    common = ["--universal", "--generate-hashes", "--python-version", "3.10", "--quiet"]
    session.run("uv", "pip", "compile", "pyproject.toml", "--extra", "test", *common,
                "-o", LOCK, *session.posargs)
    session.run("uv", "pip", "compile", "locks/bootstrap.in", *common, "-o", BOOTSTRAP_LOCK,
                *session.posargs)
