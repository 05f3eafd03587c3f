"""Train / validation / test split, disjoint by agent: no agent's replies in two splits.

An agent's split is decided by a seeded hash of its id against the cumulative fractions, so it
never moves when other agents land later (the test set the benchmark uses stays put). With few
agents a split can come out empty; then, when there are at least 3 agents, the agent whose hash
lies nearest to the empty split's interval is moved there from the largest split. With 2 agents
train and test get one each; with 1, train gets it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from vvae_pipeline.hashing import string_hash, uniforms
from vvae_pipeline.params import SPLIT_NAMES, check_fractions  # noqa: F401 (API)

# Which splits to fill first when there are too few agents for all: training needs data, and
# the benchmark reads the test split.
_PRIORITY = ("train", "test", "validation")


def assign_splits(agent_ids: pl.Series, fractions: dict[str, float], seed: int) -> pl.DataFrame:
    """One row per distinct agent: ``agent_id``, ``split``."""
    check_fractions(fractions)
    agents = agent_ids.drop_nulls().unique().sort()
    u = uniforms(string_hash(agents), seed, "split")
    bounds = np.cumsum([fractions[s] for s in SPLIT_NAMES])
    lows = np.concatenate([[0.0], bounds[:-1]])
    idx = np.minimum(np.searchsorted(bounds, u, side="right"), len(SPLIT_NAMES) - 1)
    n = len(agents)
    wanted = [s for s in _PRIORITY if fractions[s] > 0][: n if n >= 3 else min(n, 2)]
    for pos, split in enumerate(wanted):
        k = SPLIT_NAMES.index(split)
        if (idx == k).any():
            continue
        sizes = np.bincount(idx, minlength=len(SPLIT_NAMES))
        # A split already served keeps its last agent; any other split may give one up.
        served = {SPLIT_NAMES.index(s) for s in wanted[:pos]}
        sizes = np.where([j in served and sizes[j] <= 1 for j in range(len(SPLIT_NAMES))], 0, sizes)
        donor = int(np.argmax(sizes))
        if sizes[donor] == 0:
            break
        # Distance from each donor agent's hash to the empty split's interval [low, high).
        dist = np.maximum(lows[k] - u, 0) + np.maximum(u - bounds[k], 0)
        dist = np.where(idx == donor, dist, np.inf)
        idx[int(np.argmin(dist))] = k
    return pl.DataFrame({"agent_id": agents, "split": np.asarray(SPLIT_NAMES)[idx]},
                        schema={"agent_id": pl.Utf8, "split": pl.Utf8})
