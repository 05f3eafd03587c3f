"""The two 95% intervals every number of the pipeline carries, both computed by scipy.

- ``wilson(k, n)``: the Wilson score interval of a proportion k/n
  (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``). With n = 0 there is no
  information: (0, 1).
- ``bootstrap(statistic, units, n_boot)``: a paired percentile bootstrap over sampling units
  (``scipy.stats.bootstrap``, ``method="percentile"``). The unit is what was sampled: a test agent
  for the benchmark (replies of one agent are not independent), a DialogBench item, an encoder
  quality example. Each resample draws units with replacement and weighs every row by how often
  its unit was drawn; every quantity of that resample (each system, the human replies, their
  differences) is computed from the same weights, which is what makes differences paired. One
  seed gives the same draws in every call, so intervals computed in separate calls are paired too.

Why percentile and not BCa: BCa's acceleration is a ratio of jackknife moments, 0/0 when every
unit has the same value (a system with all-zero rates), and scipy then returns NaN bounds; the
percentile interval of such data is (0, 0). With fewer than two units there is nothing to
resample (scipy refuses): both bounds are the point estimate.

``fmt_ci`` prints a number with its interval, the one way the report, the claims, the verdicts and
the promotion's reasons write them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials, bounds in [0, 1]; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


Statistic = Callable[[np.ndarray], np.ndarray]


def bootstrap(statistic: Statistic, units: Sequence, n_boot: int, seed: int = 0,
              confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of ``statistic`` over the sampling units of the rows.

    ``units``: the unit of each row (an agent id; ``range(n)`` when rows are independent).
    ``n_boot``: the number of resamples; no default here, the caller's parameters state it
    (``BenchmarkParams.bootstrap_samples`` for the benchmark and the promotion).
    ``statistic(w)``: w is (n_resamples, n_rows), each row's weight in a resample (how often its
    unit was drawn; all ones is the data as observed); it returns an array whose last axis is the
    resample, e.g. (n_resamples,) for one quantity or (k, n_resamples) for k of them.
    Returns (low, high), each of the statistic's shape without the resample axis.
    """
    names, idx = np.unique(np.asarray(units, dtype=object), return_inverse=True)
    if len(idx) == 0:
        raise ValueError("a bootstrap needs at least one row")
    n_units = len(names)
    if n_units < 2:
        point = np.asarray(statistic(np.ones((1, len(idx)))))[..., 0]
        return point, point.copy()

    def weighted(draws: np.ndarray, axis: int = -1) -> np.ndarray:
        # draws: (batch, n_units) indices of the units drawn in each resample
        counts = np.zeros((draws.shape[0], n_units))
        np.add.at(counts, (np.arange(draws.shape[0])[:, None], draws), 1.0)
        return np.asarray(statistic(counts[:, idx]))

    res = stats.bootstrap((np.arange(n_units),), weighted, n_resamples=n_boot, vectorized=True, axis=-1,
                          confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)


def bootstrap_ci(statistic: Statistic, units: Sequence, n_boot: int, seed: int = 0,
                 confidence: float = CONFIDENCE) -> tuple[float, float]:
    """``bootstrap`` of a statistic that returns one quantity per resample, as two floats."""
    lo, hi = bootstrap(statistic, units, n_boot, seed, confidence)
    return float(lo), float(hi)


def fmt_ci(point: float | None, ci: Sequence[float | None] | None, spec: str = ".3f", prose: bool = False) -> str:
    """A number with its interval: "0.530 [0.412, 0.650]" (a table cell whose header says what the
    interval is), or with ``prose`` "0.530 (95% CI 0.412 to 0.650)". ``spec`` formats all three
    (".3f", "+.1%", ...). "-" without a point; the point alone when the interval or a bound is missing."""
    if point is None:
        return "-"
    text = format(float(point), spec)
    if ci is None or len(ci) != 2 or any(b is None for b in ci):
        return text
    lo, hi = (format(float(b), spec) for b in ci)
    return f"{text} ({CONFIDENCE:.0%} CI {lo} to {hi})" if prose else f"{text} [{lo}, {hi}]"
