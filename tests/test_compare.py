"""`compare RUN_A RUN_B`: ratio with CI, significance, and --fail-on-slower as a CI gate."""

import pytest
import numpy as np

from test_analysis import make_run

from conftest import run_cli

RNG = np.random.default_rng(11)


def noisy(center, n=6):
    return list(np.round(center * (1 + 0.02 * RNG.standard_normal(n)), 6))


def runs(repo):
    results = repo / "results"
    make_run(results, "20260101-000000-aaaa", {("fast", "insert"): noisy(1.0), ("steady", "insert"): noisy(2.0)})
    make_run(results, "20260102-000000-bbbb", {("fast", "insert"): noisy(2.0), ("steady", "insert"): noisy(2.0)})


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_compare_reports_the_slowdown_and_gates_on_it(repo_copy):
    runs(repo_copy)
    done = run_cli("compare", "*aaaa", "*bbbb", "--fail-on-slower", "fast", cwd=repo_copy)
    assert done.returncode == 1, done.stderr
    assert "fast-insert" in done.stdout and "2.0" in done.stdout and "slower" in done.stdout
    assert "significantly slower: fast-insert" in done.stderr
    steady = [line for line in done.stdout.splitlines() if line.startswith("steady-insert")][0]
    assert "not significant" in steady


@pytest.mark.slow  # a whole run: make test, not the quick lane
def test_compare_passes_when_the_chosen_strategy_did_not_slow_down(repo_copy):
    runs(repo_copy)
    done = run_cli("compare", "*aaaa", "*bbbb", "--fail-on-slower", "steady", cwd=repo_copy)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compare_without_common_strategies_is_a_one_line_error(tmp_path, capsys):
    """In this process (the command-line wrapper is the one tests/test_bad_input.py runs)."""
    from analysis.__main__ import main

    results = tmp_path / "results"
    make_run(results, "20260101-000000-aaaa", {("a", "insert"): [1.0]})
    make_run(results, "20260102-000000-bbbb", {("b", "insert"): [1.0]})
    assert main(["compare", "*aaaa", "*bbbb", "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "no strategy and phase in common" in err[0]


def test_the_seconds_printed_are_the_ones_the_ratio_is_formed_from(tmp_path):
    """The two durations on a row are geometric means, so B / A is the printed ratio (medians
    beside a ratio of geometric means would not divide to it)."""
    from analysis.compare import compare, render

    results = tmp_path / "results"
    make_run(results, "20260101-000000-aaaa", {("skewed", "insert"): [1.0, 1.0, 1.0, 4.0, 4.0]})
    make_run(results, "20260102-000000-bbbb", {("skewed", "insert"): [2.0, 2.1, 1.9, 2.0, 2.05]})
    table = compare(results, "*aaaa", "*bbbb")
    row = table.iloc[0]
    assert row["median_a"] == 1.0 and row["geomean_a"] == pytest.approx(4 ** 0.4)
    assert row["geomean_b"] / row["geomean_a"] == pytest.approx(row["ratio"])
    line = render(table, "A", "B").splitlines()[-1]
    assert f"{row['geomean_a']:9.4f} s -> {row['geomean_b']:9.4f} s" in line
