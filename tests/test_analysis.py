"""Analysis on small synthetic runs with known answers, and the figures folder's guarantees."""

import csv
import hashlib
import json
import os
import re

import numpy as np
import pandas as pd
import pytest

from analysis.aggregate import aggregate
from analysis.build import build
from analysis.figure_kinds import BY_NAME, KINDS, markdown_table
from analysis.load import load_runs
from analysis.significance import F_TEST, PAIR_TEST, significance
from contract.ranking import NOT_RANKED
from analysis.stats import cliffs_delta, geometric_mean_ci, holm, ratio_test
from contract import REPO_ROOT
from contract.errors import UsageError
from contract.row import COLUMNS

from conftest import run_cli


def make_run(results, run_id, durations, items=1000, threads=4, pg="18.4", memory=None,
             failures=(), cpu="Test CPU", config=None, commit="abcdef1234567", dirty=False, python="3.11.7",
             diff="", extra=None):
    """A run folder whose passes have the given durations: {(strategy, phase): [seconds...]}, or
    {(strategy, phase, threads): [...]} for a run interleaving thread counts."""
    folder = results / run_id
    folder.mkdir(parents=True)
    with open(folder / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for (strategy, phase, *at), values in durations.items():
            for repeat, seconds in enumerate(values, start=1):
                ok = (strategy, phase, repeat) not in failures
                writer.writerow({
                    "run_id": run_id, "strategy": strategy, "phase": phase, "repeat": repeat,
                    "items": items, "threads": at[0] if at else threads, "backend": "embedded", "pg_version": pg,
                    "duration_s": seconds, "wall_s": seconds + 0.5,
                    "peak_memory_mb": (memory or {}).get(strategy, 10.0) + repeat * 0.01,
                    "allocations": 100, "max_rss_mb": 50, "users": items, "addresses": items,
                    "counts_ok": ok, "values_ok": ok, "success": ok, "error": "" if ok else "boom",
                    "wal_bytes": 1000, "table_bytes": 2000, "dead_tuples": 0, "hot_updates": 0,
                    "test": f"{strategy}-{phase}", "connections": 1, "library": "x",
                    "technique": "on_conflict", "reference": strategy == "floor", "order": 1,
                    "seed": 1, "server": f"embedded:{pg[:2]}", "started_at": "2026-01-01T00:00:00+00:00",
                    **(extra or {}),
                })
    manifest = {"run_id": run_id, "started_at": "2026-01-02T03:04:05+00:00",
                "git": {"commit": commit, "dirty": dirty},
                "machine": {"cpu_model": cpu, "cpu_count": 2, "memory_gb": 8, "python": python},
                "servers": [{"version": f"PostgreSQL {pg}"}],
                "packages": {"installed": {}, "lock_sha256": "0123456789abcdef"},
                "config": config or {"CONTENTION": "0", "PG_SETTINGS": ""}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "git.diff").write_text(diff)
    return folder


RNG = np.random.default_rng(7)


def sample(center, n=8, spread=0.02, rng=None):
    return list(np.round(center * (1 + spread * (rng or RNG).standard_normal(n)), 6))


@pytest.fixture
def clear_case(tmp_path):
    """fast is 4x faster than slow (8 passes each); twin_a and twin_b come from one distribution.
    Its own generator: the same samples whichever tests run before it."""
    rng = np.random.default_rng(7)
    same = sample(1.0, n=16, rng=rng)
    durations = {("fast", "insert"): sample(0.5, rng=rng), ("slow", "insert"): sample(2.0, rng=rng),
                 ("twin_a", "insert"): same[:8], ("twin_b", "insert"): same[8:],
                 ("floor", "insert"): sample(0.25, rng=rng)}
    make_run(tmp_path / "results", "20260101-000000-aaaa", durations)
    return tmp_path / "results"


def pair(table, a, b):
    rows = table[(table["test"] == PAIR_TEST) & (table["a"].isin([a, b])) & (table["b"].isin([a, b]))]
    assert len(rows) == 1
    return rows.iloc[0]


def test_clearly_different_strategies_are_significant(clear_case):
    passes = load_runs(clear_case).passes
    table = significance(passes)
    row = pair(table, "fast", "floor")
    assert row["a"] == "floor" and row["p_adjusted"] < 0.05 and row["significant"] == True  # noqa: E712
    assert row["p_value"] <= row["p_adjusted"]  # the pair alone, then adjusted over all pairs
    assert row["ratio"] == pytest.approx(2.0, rel=0.1) and row["n_a"] == row["n_b"] == 8
    assert row["ratio_ci_low"] <= row["ratio"] <= row["ratio_ci_high"]
    assert row["cliffs_delta"] == 1.0  # every fast pass is slower than every floor pass
    omnibus = table[table["test"] == F_TEST].iloc[0]
    assert omnibus["p_value"] < 0.001


def test_every_pair_is_compared_and_adjusted_over_all_pairs(clear_case):
    table = significance(load_runs(clear_case).passes)
    compared = table[table["test"] == PAIR_TEST]
    assert len(compared) == 5 * 4 // 2  # every pair of the five strategies, the floor included
    far = pair(table, "fast", "slow")
    assert far["significant"] == True and far["ratio"] == pytest.approx(4.0, rel=0.1)  # noqa: E712
    assert np.allclose(compared["p_adjusted"], (compared["p_value"] * 10).clip(upper=1), rtol=1e-9, atol=0)


def test_identical_distributions_are_not_significant(clear_case):
    row = pair(significance(load_runs(clear_case).passes), "twin_a", "twin_b")
    assert row["p_adjusted"] > 0.05 and row["significant"] == False  # noqa: E712
    assert abs(row["cliffs_delta"]) < 0.6


def test_too_few_rounds_are_not_compared(tmp_path):
    make_run(tmp_path / "r", "20260101-000000-aaaa", {("a", "insert"): [1, 1.1], ("b", "insert"): [5, 5.1]})
    table = significance(load_runs(tmp_path / "r").passes)
    assert (table["test"] == F_TEST).all()  # the omnibus test only: no pair has 3 rounds
    ranked = aggregate(load_runs(tmp_path / "r").passes)
    assert set(ranked["rank"]) == {NOT_RANKED} and set(ranked["band"]) == {""}
    # its estimate is still there: the geometric mean of within-round ratios
    b = ranked[ranked["strategy"] == "b"].iloc[0]
    assert b["floor_ratio"] != b["floor_ratio"]  # no floor in this run: no x floor either


def test_aggregate_has_the_originals_columns_and_more(clear_case):
    table = aggregate(load_runs(clear_case).passes)
    for column in ("test", "average_duration", "average_memory", "success_rate", "z_duration", "z_memory",
                   "n", "median_duration", "std_duration", "cv_duration", "ci_low", "ci_high",
                   "rows_per_s", "floor_multiple", "rank"):
        assert column in table.columns
    fast = table[table["strategy"] == "fast"].iloc[0]
    assert fast["floor_multiple"] == pytest.approx(2.0, rel=0.1)
    assert fast["rank"] == "1" and fast["band"] == "a" and table[table["strategy"] == "floor"].iloc[0]["rank"] == "floor"
    assert fast["rows_per_s"] == pytest.approx(2 * 1000 / fast["median_duration"])
    assert fast["ci_low"] <= fast["geomean_duration"] <= fast["ci_high"]
    assert table["z_duration"].sum() == pytest.approx(0, abs=1e-9)


def test_failed_passes_count_in_success_rate_only(tmp_path):
    make_run(tmp_path / "r", "20260101-000000-aaaa", {("a", "insert"): [1.0, 1.0, 100.0, 1.0]},
             failures={("a", "insert", 3)})
    row = aggregate(load_runs(tmp_path / "r").passes).iloc[0]
    assert row["success_rate"] == 0.75 and row["n"] == 4 and row["n_ok"] == 3
    assert row["average_duration"] == 1.0 and row["median_duration"] == 1.0


def test_configurations_are_never_mixed(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0] * 5}, items=1000)
    make_run(results, "20260102-000000-bbbb", {("a", "insert"): [9.0] * 5}, items=10000)
    make_run(results, "20260103-000000-cccc", {("a", "insert"): [3.0] * 5}, pg="16.14")
    make_run(results, "20260104-000000-dddd", {("a", "insert"): [7.0] * 5}, cpu="Other CPU")
    make_run(results, "20260105-000000-eeee", {("a", "insert"): [5.0] * 5},
             config={"CONTENTION": "1", "PG_SETTINGS": ""})
    make_run(results, "20260106-000000-ffff", {("a", "insert"): [2.0] * 5},
             config={"CONTENTION": "0", "PG_SETTINGS": "synchronous_commit=off"})
    make_run(results, "20260107-000000-abab", {("a", "insert"): [1.0] * 5})  # pools with aaaa
    table = aggregate(load_runs(results).passes)
    assert sorted(table["median_duration"]) == [1.0, 2.0, 3.0, 5.0, 7.0, 9.0]
    assert len(table) == 6 and table[table["median_duration"] == 1.0]["n"].item() == 10
    assert set(table["variant"]) == {"default", "contention", "synchronous_commit=off"}


def test_added_latencies_the_relay_and_tcp_are_never_pooled(tmp_path):
    """latency_ms is a configuration column; the relay (even at 0 ms) and loopback TCP are
    variants; a run from before the columns (blank) is latency 0, directly, and pools as such."""
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0] * 5})  # no latency columns filled
    make_run(results, "20260102-000000-bbbb", {("a", "insert"): [1.0] * 5},
             extra={"latency_ms": 0.0, "via_relay": False})  # pools with aaaa
    make_run(results, "20260103-000000-cccc", {("a", "insert"): [1.1] * 5},
             extra={"latency_ms": 0.0, "via_relay": True})
    make_run(results, "20260104-000000-dddd", {("a", "insert"): [3.0] * 5},
             extra={"latency_ms": 1.0, "via_relay": True})
    make_run(results, "20260105-000000-eeee", {("a", "insert"): [1.2] * 5},
             config={"CONTENTION": "0", "PG_SETTINGS": "", "TRANSPORT": "tcp"})
    passes = load_runs(results).passes
    table = aggregate(passes)
    assert sorted(table["median_duration"]) == [1.0, 1.1, 1.2, 3.0]
    assert table[table["median_duration"] == 1.0]["n"].item() == 10
    by_duration = table.set_index("median_duration")
    assert by_duration.loc[3.0, "latency_ms"] == 1.0 and by_duration.loc[3.0, "variant"] == "relay"
    assert by_duration.loc[1.1, "variant"] == "relay" and by_duration.loc[1.2, "variant"] == "tcp"
    assert by_duration.loc[1.0, "latency_ms"] == 0.0 and by_duration.loc[1.0, "variant"] == "default"
    from analysis.load import config_label, config_slug, configurations

    labels = {config_label(c): config_slug(c) for c in configurations(passes)}
    assert any("1 ms added round trip" in label and slug.endswith("_relay_latency1ms")
               for label, slug in labels.items())


def test_run_selection(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0]}, items=1000)
    make_run(results, "20260301-000000-bbbb", {("a", "insert"): [2.0]}, items=5000)
    assert set(load_runs(results, runs="*aaaa").passes["duration_s"]) == {1.0}
    assert set(load_runs(results, since="2026-02-01").passes["duration_s"]) == {2.0}
    assert set(load_runs(results, items=1000).passes["duration_s"]) == {1.0}
    with pytest.raises(UsageError, match="no passes with --items 7"):
        load_runs(results, items=7)


def test_runs_of_different_code_or_python_are_not_pooled_unless_asked(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0]}, commit="1111111aaaaaa")
    make_run(results, "20260102-000000-bbbb", {("a", "insert"): [2.0]}, python="3.12.1")
    make_run(results, "20260103-000000-cccc", {("a", "insert"): [3.0]}, dirty=True, diff="x")
    make_run(results, "20260104-000000-dddd", {("a", "insert"): [4.0]}, dirty=True, diff="y")
    make_run(results, "20260105-000000-eeee", {("a", "insert"): [5.0]}, dirty=True, diff="y")
    warnings = []
    loaded = load_runs(results, warn=warnings.append)
    assert sorted(loaded.passes["duration_s"]) == [4.0, 5.0]  # the newest run's lineage only
    assert len(warnings) == 3 and all("not pooled" in w and "--allow-mixed" in w for w in warnings)
    assert "Python 3.12" in next(w for w in warnings if "bbbb" in w)
    assert sorted(load_runs(results, allow_mixed=True).passes["duration_s"]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(load_runs(results, runs="*aaaa").passes["duration_s"]) == [1.0]  # chosen alone: fine


def test_corrupted_results_are_named_and_skipped(tmp_path):
    results = tmp_path / "r"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0]})
    bad = results / "20260102-000000-bbbb"
    bad.mkdir()
    (bad / "results.csv").write_text("this,is\nnot,a results file\n")
    warnings = []
    loaded = load_runs(results, warn=warnings.append)
    assert len(loaded.passes) == 1
    assert warnings == [f"skipping {bad / 'results.csv'}: missing columns run_id, strategy, phase, "
                        "repeat, items, threads, backend, pg_version, duration_s, peak_memory_mb, success"]


def test_empty_results_is_a_one_line_message(tmp_path, repo_copy):
    done = run_cli("figures", cwd=repo_copy)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: no runs in {repo_copy / 'results'} and no published set under {repo_copy / 'figures'}: "
        "run `make bench` first"]


def test_holm_against_a_hand_computed_example():
    # p sorted: 0.01*4=0.04, 0.02*3=0.06, 0.03*2=0.06 (monotone), 0.5*1=0.5
    assert list(holm([0.03, 0.5, 0.01, 0.02])) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert list(holm([0.9, 0.8])) == [1.0, 1.0]


def test_cliffs_delta():
    assert cliffs_delta([3, 4], [1, 2]) == 1.0
    assert cliffs_delta([1, 2], [3, 4]) == -1.0
    assert cliffs_delta([1, 3], [2, 2]) == 0.0


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_figures_folder_is_complete(clear_case, tmp_path):
    """(That a rebuild gives the same bytes: tests/test_publish.py, and CI's `make figures`.)"""
    first = build(clear_case, tmp_path / "one", echo=lambda _: None)
    names = {p.name for p in first}
    for required in ("REPORT.md", "manifest.json", "aggregate.csv", "correlation.csv",
                     "significance.csv", "passes.csv"):
        assert required in names
    for kind in ("duration", "memory", "x_floor", "zscores", "heatmap_insert"):
        assert any(n.startswith(kind + "_") and n.endswith(".png") for n in names), kind
        svg = any(n.startswith(kind + "_") and n.endswith(".svg") for n in names)
        assert svg == BY_NAME[kind].headline, kind  # SVG for headline figures only
    assert {kind.name for kind in KINDS if kind.headline} == {"duration", "x_floor", "distance"}
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert list(manifest["runs"]) == ["20260101-000000-aaaa"]
    report = (tmp_path / "one" / "REPORT.md").read_text()
    assert re.search(r"`twin_.` takes 2\.\d\dx the time of `fast`", report) and "adjusted over all pairs" in report
    assert "![duration_" in report


def test_failed_strategies_are_marked_in_the_report(tmp_path):
    make_run(tmp_path / "r", "20260101-000000-aaaa",
             {("a", "insert"): [1.0] * 5, ("b", "insert"): [2.0] * 5},
             failures={("b", "insert", 2)})
    build(tmp_path / "r", tmp_path / "out", echo=lambda _: None, kinds=[])  # the report, no figures
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert "`b` failed 1 of 5 passes" in report


def test_duration_interval_is_the_t_interval_of_the_log_mean():
    """At 3 repeats: exp(mean log +- t(0.975, 2) * sd / sqrt(3)), computed here by hand, which a
    percentile bootstrap (min-max at best) does not give."""
    logs = np.array([0.0, 0.1, 0.2])
    half = 4.302652729911275 * 0.1 / np.sqrt(3)
    mean, low, high = geometric_mean_ci(np.exp(logs))
    assert (mean, low, high) == pytest.approx((np.exp(0.1), np.exp(0.1 - half), np.exp(0.1 + half)))
    assert low < np.exp(0.0) and high > np.exp(0.2)  # wider than the data's range at n = 3
    assert np.isnan(geometric_mean_ci([1.0])[1]) and geometric_mean_ci([2.0, 2.0, 2.0])[1:] == (2.0, 2.0)


def test_ratio_test_tells_apart_only_what_the_data_separates():
    fast, slow = [1.0, 1.05, 0.95], [2.0, 2.1, 1.9]
    apart = ratio_test(slow, fast)
    assert apart.ratio == pytest.approx(2.0, rel=0.01) and 1.5 < apart.low < 2.0 < apart.high < 2.7
    assert apart.p_value < 0.01
    overlapping = ratio_test([1.0, 1.4, 0.8], [1.1, 0.9, 1.3])
    assert overlapping.low < 1.0 < overlapping.high and overlapping.p_value > 0.05
    assert np.isnan(ratio_test([1.0, 1.1], [2.0, 2.1]).p_value)  # below 3 a side: no test


FIGURE_TABLE = re.compile(r"(<!-- figure table: generated .*? -->\n)(.*?)(<!-- end of figure table -->)", re.S)


def test_docs_figure_table_is_the_registry():
    """docs/analysis.md's table of figure kinds is generated from analysis/figure_kinds.py
    (UPDATE_DOCS=1 rewrites it); no other place lists the kinds."""
    docs = REPO_ROOT / "docs" / "analysis.md"
    text = docs.read_text(encoding="utf-8")
    match = FIGURE_TABLE.search(text)
    assert match, "docs/analysis.md lost its figure table markers"
    if os.environ.get("UPDATE_DOCS") == "1":
        docs.write_text(text[:match.start(2)] + markdown_table() + text[match.end(2):], encoding="utf-8")
        match = FIGURE_TABLE.search(docs.read_text(encoding="utf-8"))
    assert match.group(2) == markdown_table(), "docs/analysis.md's figure table and analysis/figure_kinds.py " \
        "disagree: run the tests with UPDATE_DOCS=1 after changing the registry"
