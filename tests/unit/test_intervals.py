"""Intervals and verdicts on detector hits: the agent bootstrap of rates and distances (the
intervals themselves: test_uncertainty.py), and 'not resolved' when the data cannot rank two systems."""

import numpy as np

from vvae_pipeline.evaluate import intervals as iv


def _hits(cp: list[int]) -> np.ndarray:
    return np.array([[c, 0, 0] for c in cp], dtype=float)


def test_a_clear_difference_is_resolved_and_a_tie_is_not():
    agents = [f"a{i // 5}" for i in range(60)]  # 12 agents x 5 examples
    human = _hits([1 if i % 5 == 0 else 0 for i in range(60)])  # 20% CP
    close = _hits([1 if i % 5 == 0 else 0 for i in range(60)])  # same as human
    far = _hits([1] * 60)  # 100% CP: distance 0.8
    diff = iv.paired_difference(close, far, human, agents, n_boot=500, seed=0)
    assert diff["resolved"] and diff["ci"][1] < 0
    assert iv.verdict("close", "far", diff) == "close is closer to the human rates than far"
    tie = iv.paired_difference(close, close, human, agents, n_boot=500, seed=0)
    assert not tie["resolved"]
    assert iv.verdict("x", "y", tie).startswith("not resolved")


def test_system_intervals_contain_the_point_estimate():
    agents = [f"a{i // 4}" for i in range(40)]
    rng = np.random.default_rng(3)
    human = (rng.random((40, 3)) < 0.2).astype(float)
    sys = (rng.random((40, 3)) < 0.5).astype(float)
    out = iv.system_intervals({"sys": sys}, human, agents, n_boot=400, seed=0)
    for name in ("human", "sys"):
        for d in iv.DETECTORS:
            lo, hi = out[name][f"{d}_ci"]
            assert lo <= out[name][d] <= hi
            wl, wh = out[name][f"{d}_wilson"]
            assert wl <= out[name][d] <= wh
    assert out["human"]["distance"] == 0.0
    assert out["sys"]["distance_ci"][0] > 0
