"""How strategies are ranked: the one rule the run's summary and the report both apply.

A **block** is one repeat on one server of one run: the shuffled round in which every strategy
ran once. Durations are compared within blocks, so slow drift of the machine cancels:

- `x floor` is, per block, a strategy's duration divided by the floor's in the same block; the
  blocks' ratios are summarised by their geometric mean with a 95% t-interval on the log ratios
  (scipy; valid for any number of blocks >= 2 if the log ratios are roughly normal);
- a strategy is placed above another only when their intervals of `x floor` do not overlap
  (without a floor: their intervals of the geometric mean duration); its **rank band** runs from
  1 + the number of strategies established faster to the number not established slower, so
  strategies that cannot be told apart share a band such as "2-5" (non-overlapping 95%
  intervals are a stricter criterion than one 5% test, which also covers the many pairs);
- a strategy whose interval of `x floor` lies wholly below 1 is flagged **below the floor —
  suspect** and left out of the ranking: with one connection nothing can beat the floor, so it
  is a measurement problem, or a strategy using several connections on a machine with spare cores.

With fewer than 2 blocks nothing can be established: every strategy shares one band.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

ALPHA = 0.05
INTERVAL = "95% t-interval of the geometric mean of within-repeat ratios"


@dataclass(frozen=True)
class Ranked:
    strategy: str
    blocks: int  # blocks in which it (and, for the ratio, the floor) succeeded
    geometric_mean_s: float
    floor_ratio: float | None  # geometric mean of the within-block ratios to the floor
    floor_low: float | None
    floor_high: float | None
    band: str  # "3", "2-5"; "floor" for the reference, "suspect" below the floor
    below_floor: bool = False


def geometric_interval(logs: list[float]) -> tuple[float, float, float]:
    """(geometric mean, low, high) of exp(logs), 95% t-interval; NaN bounds with < 2 values."""
    from scipy import stats

    n = len(logs)
    mean = sum(logs) / n
    if n < 2:
        return math.exp(mean), float("nan"), float("nan")
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    if sd == 0:
        return math.exp(mean), math.exp(mean), math.exp(mean)
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def rank(durations: list[tuple[object, str, float, bool]]) -> list[Ranked]:
    """Rank one phase of one configuration. `durations`: (block, strategy, seconds, reference)
    of its successful passes. Returns one `Ranked` per strategy, in ranking order (the floor
    first, suspects last)."""
    by_strategy: dict[str, dict] = defaultdict(dict)
    references = set()
    for block, strategy, seconds, reference in durations:
        if seconds and seconds > 0:
            by_strategy[strategy][block] = seconds
            if reference:
                references.add(strategy)
    floor = by_strategy.get(min(references)) if references else None
    summary, interval = {}, {}
    for strategy, blocks in by_strategy.items():
        mean, mean_low, mean_high = geometric_interval([math.log(v) for v in blocks.values()])
        ratio = low = high = None
        if floor is not None and strategy not in references:
            logs = [math.log(blocks[k] / floor[k]) for k in blocks if k in floor]
            if logs:
                ratio, low, high = geometric_interval(logs)
        summary[strategy] = (len(blocks), mean, ratio, low, high)
        interval[strategy] = (low, high) if floor is not None else (mean_low, mean_high)
    suspects = {s for s, (_, _, ratio, _, high) in summary.items()
                if high is not None and not math.isnan(high) and high < 1}
    ranked = sorted((s for s in summary if s not in references and s not in suspects),
                    key=lambda s: (summary[s][1], s))

    def known(s):
        low, high = interval[s]
        return low is not None and not math.isnan(low)

    bands = {}
    for s in ranked:
        faster = sum(1 for o in ranked if o != s and known(o) and known(s) and interval[o][1] < interval[s][0])
        slower = sum(1 for o in ranked if o != s and known(o) and known(s) and interval[o][0] > interval[s][1])
        first, last = faster + 1, len(ranked) - slower
        bands[s] = str(first) if first == last else f"{first}-{last}"
    order = sorted(references) + ranked + sorted(suspects, key=lambda s: summary[s][1])
    return [Ranked(s, summary[s][0], summary[s][1], summary[s][2], summary[s][3], summary[s][4],
                   "floor" if s in references else "suspect" if s in suspects else bands[s],
                   below_floor=s in suspects) for s in order]
