"""`python -m analysis compare A B`: did anything get faster or slower, and is it real?

Like `pyperf compare_to`: for every strategy and phase present in both, the ratio of geometric
mean durations B / A with its 95% Welch t-interval and Welch's two-sided t-test on the log
durations (analysis.stats.ratio_test) when both sides have at least 3 successful passes, the
p-values Holm-corrected over all rows. The two runs' passes are independent samples (no shared
blocks), hence Welch and not a paired test. A and B are run ids (or globs) under results/, or
one run's server, `RUN:docker:16`, to compare the versions of a matrix run. `--fail-on-slower NAMES`
turns a significant slowdown of those strategies into exit status 1, to gate a team's CI.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.load import load_runs
from analysis.stats import MIN_REPEATS_FOR_TESTS, RATIO_INTERVAL, geometric_mean_ci, holm, ratio_test
from contract.errors import UsageError


@dataclass(frozen=True)
class Side:
    runs: str
    server: str = ""

    @classmethod
    def parse(cls, text: str) -> Side:
        runs, _, server = text.partition(":")
        return cls(runs, server)

    @property
    def label(self) -> str:
        return self.runs + (f":{self.server}" if self.server else "")


def _passes(results_dir: Path, side: Side) -> pd.DataFrame:
    passes = load_runs(results_dir, runs=side.runs, warn=lambda _: None).passes
    if side.server:
        passes = passes[passes["server"].astype(str) == side.server]
        if passes.empty:
            raise UsageError(f"no passes on server {side.server!r} in {side.runs}")
    return passes[passes["success"]]


def compare(results_dir: Path, a: str, b: str, alpha: float = 0.05) -> pd.DataFrame:
    left, right = Side.parse(a), Side.parse(b)
    before, after = _passes(results_dir, left), _passes(results_dir, right)
    # a side that interleaved thread counts: each strategy@threads is compared apart
    if before["threads"].nunique() > 1 or after["threads"].nunique() > 1:
        before, after = (side.assign(strategy=side["strategy"] + "@" + side["threads"].astype(int).astype(str))
                         for side in (before, after))
    rows = []
    keys = sorted(set(map(tuple, before[["strategy", "phase"]].values))
                  & set(map(tuple, after[["strategy", "phase"]].values)))
    if not keys:
        raise UsageError(f"{left.label} and {right.label} have no strategy and phase in common")
    for strategy, phase in keys:
        x = before[(before["strategy"] == strategy) & (before["phase"] == phase)]["duration_s"].to_numpy(float)
        y = after[(after["strategy"] == strategy) & (after["phase"] == phase)]["duration_s"].to_numpy(float)
        test = ratio_test(y, x)
        rows.append({"strategy": strategy, "phase": phase, "n_a": len(x), "n_b": len(y),
                     "median_a": float(np.median(x)), "median_b": float(np.median(y)),
                     "geomean_a": geometric_mean_ci(x)[0], "geomean_b": geometric_mean_ci(y)[0],
                     "ratio": test.ratio, "ratio_ci_low": test.low, "ratio_ci_high": test.high,
                     "p_value": test.p_value})
    table = pd.DataFrame(rows)
    # one question per strategy and phase, asked together: Holm keeps the chance of any false
    # "slower" at alpha (54 uncorrected tests at 5% flag ~3 unchanged strategies)
    table["p_holm"] = holm(table["p_value"])
    table["significant"] = table["p_holm"] < alpha
    table["verdict"] = [
        f"n < {MIN_REPEATS_FOR_TESTS}: not tested" if math.isnan(p) else "not significant" if p >= alpha
        else f"{r:.2f}x slower" if r > 1 else f"{1 / r:.2f}x faster"
        for p, r in zip(table["p_holm"], table["ratio"])]
    return table


def slower(table: pd.DataFrame, patterns: str) -> list[str]:
    """`strategy-phase` of the chosen strategies that got significantly slower."""
    chosen = [p.strip() for p in patterns.split(",") if p.strip()]
    hits = table[table["significant"] & (table["ratio"] > 1)]
    return [f"{r.strategy}-{r.phase}" for r in hits.itertuples()
            if any(fnmatch.fnmatchcase(r.strategy, p) for p in chosen)]


def render(table: pd.DataFrame, a: str, b: str) -> str:
    lines = [f"A = {a}    B = {b}    seconds: geometric mean A -> B; ratio = B / A ({RATIO_INTERVAL}; "
             "Welch's t-test, p Holm-corrected over the rows)", ""]
    width = max(len(f"{s}-{p}") for s, p in zip(table["strategy"], table["phase"]))
    for r in table.itertuples():
        ci = f"[{r.ratio_ci_low:.2f}, {r.ratio_ci_high:.2f}]" if not math.isnan(r.ratio_ci_low) else "[-]"
        p = "" if math.isnan(r.p_holm) else f"p={r.p_holm:.3f}"
        lines.append(f"{r.strategy + '-' + r.phase:<{width}}  {r.geomean_a:9.4f} s -> {r.geomean_b:9.4f} s  "
                     f"x{r.ratio:6.3f} {ci:>16}  {p:>8}  {r.verdict}")
    return "\n".join(lines)
