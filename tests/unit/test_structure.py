"""Missingness and orthogonality statistics (vvae_pipeline.priors.structure) against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.priors.structure import (
    agent_dependence,
    chi2_statistic,
    cramers_v,
    heatmap_png,
    markdown,
    missingness,
    orthogonality,
)


def _table(rows: list[dict]) -> pl.DataFrame:
    full = [{**{d: None for d in DIMENSION_NAMES}, "agent_id": "a", "language": "en", **r} for r in rows]
    return pl.DataFrame(full, schema={**{d: pl.Utf8 for d in DIMENSION_NAMES}, "agent_id": pl.Utf8,
                                      "language": pl.Utf8})


def test_chi2_matches_the_textbook_formula():
    # agents a (3 rows: null, null, present), b (3 rows: present x3): observed [[2,1],[0,3]], p = 2/6.
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    flag = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    # expected nulls 1 and 1, present 2 and 2: (2-1)^2/1 + (0-1)^2/1 + (1-2)^2/2 + (3-2)^2/2 = 3
    assert chi2_statistic(groups, flag) == pytest.approx(3.0)
    assert chi2_statistic(groups, np.ones(6, bool)) == 0.0


def test_agent_dependence_finds_an_agent_that_never_answers():
    agents = np.array(["a"] * 12 + ["b"] * 12 + ["c"] * 12)
    null = np.array([True] * 12 + [False] * 24)
    dep = agent_dependence(agents, null, n_perm=500)
    assert dep["testable"] and dep["p"] < 0.01
    rng = np.random.default_rng(1)
    random_null = rng.random(36) < 0.5
    assert agent_dependence(agents, random_null, n_perm=500)["p"] > 0.05
    assert not agent_dependence(agents, np.zeros(36, bool))["testable"]


def test_cramers_v_by_hand():
    # 2x2 table [[3, 1], [1, 3]], n 8: chi2 = 2, V = sqrt(2 / 8) = 0.5
    a = ["x"] * 4 + ["y"] * 4
    b = ["p", "p", "p", "q", "p", "q", "q", "q"]
    assert cramers_v(a, b) == pytest.approx(0.5)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, ["p"] * 8) is None


def test_missingness_rates_axes_and_languages_by_hand():
    rows = [{"hobby": "chess", "catchphrase": "ok la", "emoji": "🙂", "tone": "calm"},
            {"hobby": None, "language": "zh"},
            {"hobby": "golf", "nickname": "bro"},
            {"hobby": None, "language": "zh", "topic": "work"}]
    miss = missingness(_table(rows), n_perm=100)
    h = miss["dimensions"]["hobby"]
    assert (h["nulls"], h["n"], h["rate"]) == (2, 4, 0.5)
    assert h["ci"][0] == pytest.approx(0.150, abs=1e-3) and h["ci"][1] == pytest.approx(0.850, abs=1e-3)
    # talking_style (catchphrase, emoji, tone) is wholly null in rows 2-4; interaction in rows 1-2;
    # personal (personality, hobby) in rows 2 and 4.
    assert miss["axes"]["talking_style"]["nulls"] == 3
    assert miss["axes"]["interaction"]["nulls"] == 2
    assert miss["axes"]["personal"]["nulls"] == 2
    assert miss["languages"]["zh"]["hobby"]["nulls"] == 2 and miss["languages"]["en"]["hobby"]["nulls"] == 0
    assert not miss["dimensions"]["hobby"]["agent_dependence"]["testable"]  # one agent


def test_orthogonality_pairs_and_min_pairs():
    rows = [{"tone": t, "vibe": v} for t, v in [("calm", "warm")] * 6 + [("cold", "tense")] * 6]
    orth = orthogonality(_table(rows), min_pairs=10)
    assert orth["pairs"]["tone|vibe"]["v"] == pytest.approx(1.0) and orth["pairs"]["tone|vibe"]["n"] == 12
    assert orth["pairs"]["tone|vibe"]["same_axis"] is False
    assert orth["pairs"]["catchphrase|emoji"]["v"] is None  # no example with both
    assert orthogonality(_table(rows[:5]), min_pairs=10)["pairs"]["tone|vibe"]["v"] is None


def test_markdown_and_heatmap_render(tmp_path):
    rows = [{"tone": t, "vibe": v, "agent_id": ag} for t, v, ag in
            [("calm", "warm", "a"), ("cold", "tense", "b"), ("calm", "tense", "c")] * 5]
    ext = _table(rows)
    miss, orth = missingness(ext, n_perm=50), orthogonality(ext)
    md = markdown(miss, orth)
    assert "| tone | talking_style | 0% [0%, 20%] (0/15)" in md
    assert "tone x vibe" in md and not math.isnan(orth["pairs"]["tone|vibe"]["v"])
    assert heatmap_png(orth)[:4] == b"\x89PNG"
