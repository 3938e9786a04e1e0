"""How strategies are ranked: the one rule the run's summary, its schedule and the report apply.

Per configuration and phase, the **blocked model** (`contract.blocked_model`) estimates every
strategy's effect from all passes at once, a block being one shuffled round. From it:

- **`x floor`** is exp(effect of the strategy - effect of the floor), with the 95% t-interval of
  that one contrast at the model's residual degrees of freedom (FLOOR_INTERVAL): the answer to
  "how far is this strategy from the floor", read one strategy at a time;
- every ratio between two strategies is formed the same way, and its interval and p-value are
  **simultaneous over all pairs of the phase** (PAIR_INTERVAL: Bonferroni over the m = k(k-1)/2
  pairs of the k compared strategies, the floor included: the half-width of log(b / a) is
  t(1 - 0.05 / 2m; df) x its standard error, df the smaller of the two strategies' degrees of
  freedom; the adjusted p-value is min(1, m x p)). Bonferroni holds whatever the strategies'
  noise and the comparisons' correlation (Tukey's studentized range needs one common variance)
  and, at k = 27, is 5% wider than Tukey would be. A pair's interval excludes 1 exactly when its
  adjusted p < 0.05, and ranks and bands come from these same comparisons;
- a strategy's **rank** is the interval of places it could take: from 1 + the number of strategies
  shown faster to the number not shown slower ("2-5");
- its **band** is a set of letters (a compact letter display, Piepho's insert-absorb algorithm):
  two strategies share a letter exactly when the comparisons cannot tell them apart, and have no
  letter in common exactly when they differ. Rank intervals can overlap for two strategies that
  differ (A < B, both tied with C); bands cannot;
- a strategy with fewer than MIN_BLOCKS rounds is **not ranked** (no rank, no band, no interval);
- a single-connection strategy whose `x floor` is below 1 is flagged **below the floor**; when its
  whole interval is below 1 it is a **suspect** and is not ranked: with one connection nothing
  can beat the floor, so it is a measurement problem. Strategies that use several connections,
  and strategies that did less than the floor's work (`wrote_less`: under half its WAL, e.g. a
  no-op upsert that leaves unchanged rows alone where the floor rewrites them) may beat it and
  are ranked as usual (`rank`'s `parallel`: the strategies that may beat the floor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from string import ascii_lowercase, ascii_uppercase

from contract.blocked_model import Fit, fit

ALPHA = 0.05
MIN_BLOCKS = 3  # rounds a strategy needs to be compared (and the floor, to give `x floor`)
FLOOR_INTERVAL = "95% t-interval of the ratio to the floor (blocked model; this comparison alone)"
PAIR_INTERVAL = "95% simultaneous interval over all pairs of the phase (Bonferroni, blocked model)"
NOT_RANKED = "not ranked"


@dataclass(frozen=True)
class Comparison:
    a: str  # the faster of the two (by the model)
    b: str
    ratio: float  # duration b / duration a, from the model (>= 1)
    low: float  # simultaneous 95% interval of the ratio (NaN without residual df)
    high: float
    p_value: float  # adjusted (Bonferroni over the phase's pairs)
    significant: bool


@dataclass(frozen=True)
class Ranked:
    strategy: str
    blocks: int  # rounds in which it succeeded
    geometric_mean_s: float  # of its own durations (descriptive; ratios come from the model)
    floor_ratio: float | None  # x floor from the model
    floor_low: float | None  # its FLOOR_INTERVAL
    floor_high: float | None
    rank: str  # "3", "2-5"; "floor", "suspect" or "not ranked"
    band: str = ""  # letters; "" for the floor, suspects and strategies not ranked
    below_floor: bool = False  # x floor < 1 for a single-connection strategy
    suspect: bool = False  # ... and its whole interval below 1

    @property
    def ranked(self) -> bool:
        return bool(self.band)


@dataclass(frozen=True)
class Ranking:
    entries: list[Ranked]  # the floor first, then ranked strategies fastest first, then the rest
    comparisons: dict[frozenset, Comparison]  # every pair of compared strategies
    model: Fit | None
    compared: int  # k: strategies in the simultaneous family (the floor included)

    def by_strategy(self) -> dict[str, Ranked]:
        return {entry.strategy: entry for entry in self.entries}


@lru_cache(maxsize=4096)
def t_quantile(df: float, level: float = 1 - ALPHA / 2) -> float:
    """t(level; df): the multiple of a contrast's standard error in its half-width."""
    from scipy import stats

    return float(stats.t.ppf(level, df))


def two_sided_p(estimate: float, se: float, df: float) -> float:
    """The p-value of one contrast alone (no spread: 1 when it is 0, else 0)."""
    from scipy import stats

    if se <= 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * stats.t.sf(abs(estimate / se), df))


def letters(order: list[str], different: set[frozenset]) -> dict[str, str]:
    """A compact letter display: strategies share a letter exactly when their pair is not in
    `different` (Piepho 2004, insert-absorb). Letters go by the fastest member of each column."""
    columns: list[set[str]] = [set(order)]
    for pair in sorted(different, key=lambda p: sorted(p)):
        one, other = sorted(pair)
        split = []
        for column in columns:
            if one in column and other in column:
                split += [column - {one}, column - {other}]
            else:
                split.append(column)
        # absorb: a column inside another says nothing the other does not
        columns = [c for i, c in enumerate(split)
                   if c and not any((c < d) or (c == d and j < i) for j, d in enumerate(split))]
    position = {s: i for i, s in enumerate(order)}
    columns.sort(key=lambda c: sorted(position[s] for s in c))
    names = list(ascii_lowercase + ascii_uppercase) + [f"z{i}" for i in range(len(columns))]
    return {s: "".join(names[i] for i, c in enumerate(columns) if s in c) for s in order}


def compare_all(model: Fit, family: list[str]) -> dict[frozenset, Comparison]:
    """Every pair of `family`, Bonferroni over the k(k-1)/2 pairs: the faster first."""
    pairs = len(family) * (len(family) - 1) // 2
    comparisons = {}
    for one, other in combinations(family, 2):
        estimate, se, df = model.contrast(one, other)
        a, b = (one, other) if estimate >= 0 else (other, one)
        estimate = abs(estimate)
        half = t_quantile(df, 1 - ALPHA / (2 * pairs)) * se
        p = min(1.0, pairs * two_sided_p(estimate, se, df))
        comparisons[frozenset((a, b))] = Comparison(a, b, math.exp(estimate), math.exp(estimate - half),
                                                    math.exp(estimate + half), p, p < ALPHA)
    return comparisons


def rank(durations: list[tuple[object, str, float, bool]], parallel: frozenset[str] = frozenset()) -> Ranking:
    """Rank one phase of one configuration. `durations`: (block, strategy, seconds, reference)
    of its successful passes; `parallel`: strategies using several connections (they may beat
    the floor)."""
    references = sorted({s for _, s, seconds, ref in durations if ref and seconds and seconds > 0})
    own: dict[str, list[float]] = {}
    for _, strategy, seconds, _ in durations:
        if seconds and seconds > 0:
            own.setdefault(strategy, []).append(math.log(seconds))
    model = fit([(block, strategy, seconds) for block, strategy, seconds, _ in durations])
    if model is None:
        return Ranking([], {}, None, 0)
    family = [s for s in model.strategies if model.blocks[s] >= MIN_BLOCKS]
    k = len(family)
    can_compare = k >= 2 and model.df >= 1
    comparisons = compare_all(model, family) if can_compare else {}
    floor = references[0] if references and references[0] in model.strategies else None

    def floor_ratio(s: str) -> tuple[float | None, float | None, float | None]:
        if floor is None or s in references:
            return None, None, None
        estimate, se, df = model.contrast(floor, s)
        if s in family and floor in family and can_compare:
            half = t_quantile(df) * se
            return math.exp(estimate), math.exp(estimate - half), math.exp(estimate + half)
        return math.exp(estimate), None, None

    ratios = {s: floor_ratio(s) for s in model.strategies}
    below = {s for s, (r, _, _) in ratios.items() if r is not None and r < 1 and s not in parallel}
    suspects = {s for s in below if ratios[s][2] is not None and ratios[s][2] < 1}
    effect = {s: float(model.effects[model.index(s)]) for s in model.strategies}
    ranked = sorted((s for s in family if s not in references and s not in suspects),
                    key=lambda s: (effect[s], s))
    different = {pair for pair, c in comparisons.items() if c.significant and pair <= set(ranked)}
    bands = letters(ranked, different) if can_compare else {}
    places = {}
    for s in ranked:
        faster = sum(1 for o in ranked if frozenset((o, s)) in different and effect[o] < effect[s])
        slower = sum(1 for o in ranked if frozenset((o, s)) in different and effect[o] > effect[s])
        first, last = faster + 1, len(ranked) - slower
        places[s] = str(first) if first == last else f"{first}-{last}"
    rest = sorted((s for s in own if s not in references and s not in ranked),
                  key=lambda s: (effect.get(s, math.inf), s))

    def entry(s: str) -> Ranked:
        logs = own[s]
        ratio, low, high = ratios.get(s, (None, None, None))
        if s in references:
            place = "floor"
        elif s in suspects:
            place = "suspect"
        else:
            place = places.get(s, NOT_RANKED) if can_compare else NOT_RANKED
        return Ranked(s, model.blocks.get(s, 0), math.exp(sum(logs) / len(logs)), ratio, low, high, place,
                      bands.get(s, "") if place not in ("floor", "suspect", NOT_RANKED) else "",
                      below_floor=s in below, suspect=s in suspects)

    entries = [entry(s) for s in references + ranked + rest]
    return Ranking(entries, comparisons, model, k if can_compare else 0)


def geometric_interval(logs: list[float]) -> tuple[float, float, float]:
    """(geometric mean, low, high) of exp(logs), 95% t-interval; NaN bounds with < 2 values.
    For one strategy's own durations (aggregate.csv's ci_low/ci_high), not for comparisons."""
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


FAR_BELOW = 0.9  # a pass more than 10% faster than the floor's pass of its round
LESS_WAL = 0.5  # a strategy whose passes wrote under half the floor's WAL did less work than it


def wrote_less(wal_bytes: dict[str, list[float]], references: set[str]) -> frozenset[str]:
    """The strategies whose median WAL per pass is under LESS_WAL of the floor's (the first
    reference with WAL recorded): they skipped work the floor does, so they may beat it.
    `wal_bytes`: strategy -> its passes' WAL bytes (missing values left out)."""
    def median(values: list[float]) -> float | None:
        values = sorted(v for v in values if v is not None and v == v)
        return None if not values else (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2
    floors = [m for r in sorted(references) if (m := median(wal_bytes.get(r, []))) is not None]
    if not floors or floors[0] <= 0:
        return frozenset()
    return frozenset(s for s, values in wal_bytes.items() if s not in references
                     and (m := median(values)) is not None and m < LESS_WAL * floors[0])


def below_floor_passes(durations: list[tuple[object, str, float, bool]],
                       parallel: frozenset[str] = frozenset()) -> list[tuple[object, str, float]]:
    """(block, strategy, ratio) of the single-connection passes that took less than FAR_BELOW of
    the floor's pass in the same round: each is noise or a measurement problem (counted in the
    run log; the model's `x floor` decides whether the strategy is a suspect)."""
    floors = {block: seconds for block, strategy, seconds, ref in durations if ref and seconds}
    return sorted(((block, strategy, seconds / floors[block]) for block, strategy, seconds, ref in durations
                   if not ref and strategy not in parallel and seconds and block in floors
                   and seconds < FAR_BELOW * floors[block]), key=lambda x: (str(x[0]), x[1]))
