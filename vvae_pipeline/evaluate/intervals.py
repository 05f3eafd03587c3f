"""Uncertainty for every number in the report: Wilson intervals for rates, and a bootstrap over
test agents (the unit that was sampled: replies of one agent are not independent) for rates,
distances and paired differences between systems scored on the same prompts. Both intervals come
from vvae_pipeline.uncertainty (scipy); this module says what is resampled and what is computed.

A verdict is only given when the data can give it: system A is closer to the human rates than B
when the 95% interval of distance(A) - distance(B), resampled by agent, lies below zero; when it
contains zero the comparison is "not resolved".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from vvae_pipeline.evaluate.systems import HUMAN
from vvae_pipeline.uncertainty import bootstrap, bootstrap_ci, fmt_ci, wilson

DETECTORS = ("cp", "ec", "hm")


def rates(hits: np.ndarray, w: np.ndarray) -> np.ndarray:
    """hits (n_examples, 3) of 0/1, weights (n_boot, n_examples) -> (n_boot, 3) weighted rates."""
    total = w.sum(axis=1, keepdims=True)
    return (w @ hits) / np.where(total > 0, total, 1.0)


def _distance(r: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.sqrt(((r - target) ** 2).sum(axis=-1))


def system_intervals(hits: Mapping[str, np.ndarray], human: np.ndarray, agents: Sequence[str],
                     n_boot: int, seed: int = 0) -> dict[str, dict]:
    """Per system (and "human"): rates with Wilson and agent-bootstrap intervals, and its distance
    to the human rates with an agent-bootstrap interval that resamples the human replies too."""
    systems = {HUMAN: human, **hits}

    def stat(w: np.ndarray) -> np.ndarray:  # per system: 3 rates, then the distance -> (4 * n_systems, n_boot)
        hb = rates(human, w)
        rows = []
        for h in systems.values():
            b = rates(h, w)
            rows += [b.T, _distance(b, hb)[None]]
        return np.concatenate(rows)

    lo, hi = bootstrap(stat, agents, n_boot, seed)
    human_rates = human.mean(axis=0)
    out = {}
    for i, (name, h) in enumerate(systems.items()):
        n = h.shape[0]
        observed = h.mean(axis=0)
        entry = {"n": n}
        for j, d in enumerate(DETECTORS):
            entry[d] = float(observed[j])
            entry[f"{d}_wilson"] = wilson(int(h[:, j].sum()), n)
            entry[f"{d}_ci"] = (float(lo[4 * i + j]), float(hi[4 * i + j]))
        entry["distance"] = float(_distance(observed, human_rates))
        entry["distance_ci"] = (float(lo[4 * i + 3]), float(hi[4 * i + 3]))
        out[name] = entry
    return out


def distance_difference(a: np.ndarray, b: np.ndarray, human: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(n_boot,) distance(a) - distance(b) to the human rates under the resample weights ``w``."""
    hb = rates(human, w)
    return _distance(rates(a, w), hb) - _distance(rates(b, w), hb)


def paired_difference(a: np.ndarray, b: np.ndarray, human: np.ndarray, agents: Sequence[str],
                      n_boot: int, seed: int = 0) -> dict:
    """distance(a) - distance(b) to the human rates on the same examples, with an agent-bootstrap
    95% interval (negative: a is closer)."""
    point = float(_distance(a.mean(0), human.mean(0)) - _distance(b.mean(0), human.mean(0)))
    lo, hi = bootstrap_ci(lambda w: distance_difference(a, b, human, w), agents, n_boot, seed)
    return {"difference": point, "ci": (lo, hi), "resolved": hi < 0 or lo > 0}


def verdict(name_a: str, name_b: str, diff: Mapping) -> str:
    lo, hi = diff["ci"]
    if hi < 0:
        return f"{name_a} is closer to the human rates than {name_b}"
    if lo > 0:
        return f"{name_b} is closer to the human rates than {name_a}"
    return (f"not resolved: {name_a} vs {name_b} distance difference "
            f"{fmt_ci(diff['difference'], diff['ci'], '+.3f', prose=True)} includes 0")
