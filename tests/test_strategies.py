"""Every shipped strategy passes the insert and the update pass with every value verified.

One real run (the runner CLI, memray on) over the whole catalogue on the tricky workload.
"""

import pytest

from experiments import REPO_ROOT
from experiments.catalog import discover

from conftest import read_results, run_cli

CATALOGUE = {s.name: s for s in discover(REPO_ROOT / "strategies")}
STRATEGIES = list(CATALOGUE)
ITEMS = 300
THREADS = 3
APIS = {"orm", "core", "driver", "server"}


@pytest.fixture(scope="module")
def catalogue_run(pg_dsn, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    done = run_cli("run", "--dsn", pg_dsn, "--items", str(ITEMS), "--threads", str(THREADS), "--repeat", "1",
                   "--results-dir", str(results), "--timeout", "300")
    folder, rows = read_results(results)
    return done, {(r["strategy"], r["phase"]): r for r in rows}


def test_catalogue_is_not_empty():
    assert len(STRATEGIES) >= 4


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_describes_itself(strategy):
    """Readable file, title `<Library>: ...`, a description over 300 characters, the required
    TAGS. Rules R3, R4, R6 in docs/adding-a-strategy.md."""
    s = CATALOGUE[strategy]
    assert not s.problem
    assert {"library", "api", "technique", "threaded"} <= set(s.tags), s.tags
    assert s.tags["api"] in APIS and isinstance(s.tags["threaded"], bool)
    assert s.title.lower().startswith(s.library) or s.tags.get("reference"), s.title
    assert ": " in s.title and len(s.description) > 300  # technique, caveats, when to use it


@pytest.mark.slow
def test_run_exits_zero(catalogue_run):
    done, _ = catalogue_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["insert", "update"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_writes_exactly_the_workload(catalogue_run, strategy, phase):
    """Exactly `total` rows per table with every value of the phase, in the run's private schema,
    trap values included. Rules R12, R15, R17 in docs/adding-a-strategy.md."""
    _, rows = catalogue_run
    row = rows[(strategy, phase)]
    assert row["error"] == ""
    assert row["success"] == row["counts_ok"] == row["values_ok"] == "True"
    assert int(row["users"]) == int(row["addresses"]) == ITEMS
    assert float(row["duration_s"]) > 0
    assert float(row["peak_memory_mb"]) > 1 and int(row["allocations"]) > 0  # memray really ran
    assert float(row["max_rss_mb"]) > 10
    assert int(row["wal_bytes"]) > 0


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_workers_are_exactly_the_threads_asked_for(catalogue_run, strategy):
    """Counted by the server: the connections the timed process of each pass opened.
    Rules R13, R14 in docs/adding-a-strategy.md."""
    tags = CATALOGUE[strategy].tags
    expected = tags.get("connections", THREADS if tags["threaded"] else 1)
    _, rows = catalogue_run
    for phase in ("insert", "update"):
        assert int(rows[(strategy, phase)]["connections"]) == expected, (strategy, phase)
