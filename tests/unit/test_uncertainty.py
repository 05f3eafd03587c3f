"""The one Wilson interval and the one bootstrap (vvae_pipeline.uncertainty), pinned to values
computed by hand."""

import warnings

import numpy as np
import pytest
from scipy import stats

from vvae_pipeline.uncertainty import bootstrap, bootstrap_ci, wilson


def test_wilson_pinned_values():
    # Closed form: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.959964.
    assert wilson(8, 11) == pytest.approx((0.434355, 0.902539), abs=1e-6)
    assert wilson(5, 10) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert wilson(0, 150) == (0.0, pytest.approx(0.024970, abs=1e-6))  # upper bound z^2 / (n + z^2)
    assert wilson(150, 150) == (pytest.approx(1 - 0.024970, abs=1e-6), 1.0)
    assert wilson(0, 0) == (0.0, 1.0)  # no trials: no information


def _rate(h: np.ndarray):
    return lambda w: (w @ h) / w.sum(axis=1)


def test_agent_bootstrap_matches_the_hand_computed_percentile_range():
    # 4 agents of 2 replies each, only agent a's replies hit. A resample draws 4 agents; the rate
    # is (times a was drawn) / 4, times ~ Binomial(4, 1/4): P(0) = 81/256 = 0.316, P(<= 2) =
    # 243/256 = 0.949, P(<= 3) = 255/256 = 0.996. The 2.5th percentile is 0, the 97.5th 3/4.
    agents = ["a", "a", "b", "b", "c", "c", "d", "d"]
    hits = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    assert bootstrap_ci(_rate(hits), agents, n_boot=4000, seed=7) == pytest.approx((0.0, 0.75), abs=1e-9)
    # The same rows resampled one by one (8 units, Binomial(8, 1/4) / 8) give a narrower range:
    # P(<= 3) = 0.886, P(<= 5) = 0.996, so the 97.5th percentile is 4/8 or 5/8, never 3/4.
    lo, hi = bootstrap_ci(_rate(hits), range(8), n_boot=4000, seed=7)
    assert lo == 0.0 and 0.5 <= hi <= 0.625


def test_weights_move_whole_agents_and_one_seed_pairs_separate_calls():
    seen = []

    def record(w):
        seen.append(w)
        return w[:, 0]

    bootstrap(record, ["a", "a", "b"], n_boot=50, seed=1)
    w = seen[0]
    assert w.shape == (50, 3)
    assert np.all(w[:, 0] == w[:, 1])  # both rows of agent a move together
    assert np.allclose(w[:, [0, 2]].sum(axis=1), 2)  # two agents drawn per resample
    h = np.array([1, 0, 1, 0, 0, 1], dtype=float)
    agents = ["a", "a", "b", "b", "c", "c"]
    base = bootstrap_ci(_rate(h), agents, 300, 3)
    shifted = bootstrap_ci(lambda w: _rate(h)(w) + 1.0, agents, 300, 3)
    assert shifted == pytest.approx((base[0] + 1, base[1] + 1))  # same draws in both calls


def test_degenerate_inputs_give_finite_intervals():
    zeros = np.zeros(6)
    agents = ["a", "a", "b", "b", "c", "c"]
    assert bootstrap_ci(_rate(zeros), agents, 200, 0) == (0.0, 0.0)
    with warnings.catch_warnings():  # why the method is percentile: BCa is NaN on all-zero rates
        warnings.simplefilter("ignore")
        bca = stats.bootstrap((zeros,), np.mean, method="BCa", n_resamples=200, rng=np.random.default_rng(0))
    assert np.isnan(bca.confidence_interval.low)
    # One agent: nothing to resample, both bounds are the point estimate (per statistic).
    lo, hi = bootstrap(lambda w: np.stack([_rate(np.array([1.0, 0.0]))(w), w.sum(axis=1)]), ["a", "a"], 100, 0)
    assert lo.tolist() == hi.tolist() == [0.5, 2.0]
    with pytest.raises(ValueError):
        bootstrap_ci(_rate(np.zeros(0)), [], 10, 0)
