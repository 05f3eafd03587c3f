"""Uncertainty for every number in the report: Wilson intervals for rates, and a bootstrap over
test agents (the unit that was sampled: replies of one agent are not independent) for rates,
distances and paired differences between systems scored on the same prompts.

A verdict is only given when the data can give it: system A is closer to the human rates than B
when the 95% interval of distance(A) - distance(B), resampled by agent, lies below zero; when it
contains zero the comparison is "not resolved".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

Z95 = 1.959963984540054
DETECTORS = ("cp", "ec", "hm")


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (0..1 bounds; (0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def agent_resamples(agents: Sequence[str], n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_examples) example weights: each resample draws agents with replacement and weighs
    every example by how often its agent was drawn."""
    names, idx = np.unique(np.asarray(agents, dtype=object), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(n_boot, len(names)))
    counts = np.zeros((n_boot, len(names)))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    return counts[:, idx]


def _rates(hits: np.ndarray, w: np.ndarray) -> np.ndarray:
    """hits (n_examples, 3) of 0/1, weights (n_boot, n_examples) -> (n_boot, 3) weighted rates."""
    total = w.sum(axis=1, keepdims=True)
    return (w @ hits) / np.where(total > 0, total, 1.0)


def _distance(rates: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.sqrt(((rates - target) ** 2).sum(axis=-1))


def _ci(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


def system_intervals(hits: Mapping[str, np.ndarray], human: np.ndarray, agents: Sequence[str],
                     n_boot: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Per system (and "human"): rates with Wilson and agent-bootstrap intervals, and its distance
    to the human rates with an agent-bootstrap interval that resamples the human replies too."""
    w = agent_resamples(agents, n_boot, seed)
    human_boot = _rates(human, w)
    human_rates = human.mean(axis=0)
    out = {}
    for name, h in {"human": human, **hits}.items():
        n = h.shape[0]
        boot = _rates(h, w)
        rates = h.mean(axis=0)
        entry = {"n": n}
        for j, d in enumerate(DETECTORS):
            entry[d] = float(rates[j])
            entry[f"{d}_wilson"] = wilson(int(h[:, j].sum()), n)
            entry[f"{d}_ci"] = _ci(boot[:, j])
        entry["distance"] = float(_distance(rates, human_rates))
        entry["distance_ci"] = _ci(_distance(boot, human_boot))
        out[name] = entry
    return out


def paired_difference(a: np.ndarray, b: np.ndarray, human: np.ndarray, agents: Sequence[str],
                      n_boot: int = 2000, seed: int = 0) -> dict:
    """distance(a) - distance(b) to the human rates on the same examples, with an agent-bootstrap
    95% interval (negative: a is closer)."""
    w = agent_resamples(agents, n_boot, seed)
    hb = _rates(human, w)
    diff = _distance(_rates(a, w), hb) - _distance(_rates(b, w), hb)
    point = float(_distance(a.mean(0), human.mean(0)) - _distance(b.mean(0), human.mean(0)))
    lo, hi = _ci(diff)
    return {"difference": point, "ci": (lo, hi), "resolved": hi < 0 or lo > 0}


def rate_difference(a: np.ndarray, b: np.ndarray, agents: Sequence[str], n_boot: int = 2000,
                    seed: int = 0) -> dict:
    """Per detector: rate(a) - rate(b) on the same examples, with an agent-bootstrap interval."""
    w = agent_resamples(agents, n_boot, seed)
    diff = _rates(a, w) - _rates(b, w)
    point = a.mean(0) - b.mean(0)
    return {d: {"difference": float(point[j]), "ci": _ci(diff[:, j])} for j, d in enumerate(DETECTORS)}


def verdict(name_a: str, name_b: str, diff: Mapping) -> str:
    lo, hi = diff["ci"]
    if hi < 0:
        return f"{name_a} is closer to the human rates than {name_b}"
    if lo > 0:
        return f"{name_b} is closer to the human rates than {name_a}"
    return (f"not resolved: {name_a} vs {name_b} distance difference {diff['difference']:+.3f} "
            f"(95% CI {lo:+.3f} to {hi:+.3f}) includes 0")
