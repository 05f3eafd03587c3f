"""Seeded prior sampling: stable hashing, faithful draws, and each variant's persona rule."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.hashing import string_hash, uniforms
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.priors.build import build_priors, normalize_persona_columns
from vvae_pipeline.sft.sampling import apply_variant, draw
from vvae_pipeline.variants import VARIANT_KEYS, VARIANTS

MASK = (1 << 64) - 1


def _reference_hash(text: str) -> int:
    """The same hash written as a plain loop: polynomial over UTF-8 bytes, then splitmix64."""
    h = 0
    for b in text.encode():
        h = (h * 0x100000001B3 + b) & MASK
    z = (h + len(text.encode()) * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


@pytest.mark.parametrize("texts", [["a", "b", "ab", "ba"], ["", "ex-1", "宝贝😂", "x" * 300], ["same", "same"]])
def test_string_hash_matches_the_reference_loop(texts):
    assert string_hash(pl.Series(texts)).tolist() == [_reference_hash(t) for t in texts]


def test_string_hash_ignores_slicing_and_chunking():
    s = pl.Series(["zero", "one", "two", "three"])
    chunked = pl.concat([s.head(2), s.tail(2)], rechunk=False)
    assert string_hash(s.slice(1, 2)).tolist() == string_hash(pl.Series(["one", "two"])).tolist()
    assert string_hash(chunked).tolist() == string_hash(s).tolist()
    with pytest.raises(ValueError, match="null"):
        string_hash(pl.Series(["a", None]))


def test_uniforms_are_uniform_and_keyed():
    h = string_hash(pl.Series([f"ex-{i}" for i in range(20_000)]))
    u = uniforms(h, 0, "tone")
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01  # sd of the mean is 0.29 / sqrt(20000) = 0.002
    assert np.histogram(u, bins=10, range=(0, 1))[0].min() > 1800  # 2000 expected per bin
    assert not np.array_equal(u, uniforms(h, 1, "tone"))
    assert not np.array_equal(u, uniforms(h, 0, "vibe"))
    assert np.array_equal(u, uniforms(h, 0, "tone"))


def test_draws_follow_the_prior():
    priors = pl.DataFrame({"dimension": ["tone"] * 3, "value": ["calm", "cold", "gentle"], "count": [6, 3, 1]})
    u = uniforms(string_hash(pl.Series([f"ex-{i}" for i in range(20_000)])), 7, "tone")
    values = draw(priors, "tone", u)
    share = dict(values.value_counts(normalize=True).iter_rows())
    for value, p in {"calm": 0.6, "cold": 0.3, "gentle": 0.1}.items():
        assert abs(share[value] - p) < 0.015, (value, share[value])
    assert draw(priors, "vibe", u) is None  # no values, nothing to draw
    # The CDF runs in value order whatever order the prior table is in.
    assert draw(priors.reverse(), "tone", u).to_list() == values.to_list()


ROWS = [
    {"tone": "calm", "hobby": "hiking", "nickname": "buddy"},
    {"tone": "cold", "vibe": "warm"},
    {"catchphrase": "you know", "personality": "shy"},
    {"tone": "gentle", "emoji": "😂", "relationship": "friend", "topic": "work"},
    {},
]


@pytest.fixture()
def table_and_prior():
    df = normalize_persona_columns(extraction_frame(ROWS))
    return df, build_priors(df)[0]


@pytest.mark.parametrize("key", VARIANT_KEYS)
def test_variant_rules(table_and_prior, key):
    df, priors = table_and_prior
    variant = VARIANTS[key]
    out, stats = apply_variant(df, priors, variant, seed=0)
    observed_dims = set(priors["dimension"])
    for before, after in zip(df.iter_rows(named=True), out.iter_rows(named=True)):
        origins = json.loads(after["origins"])
        assert list(origins) == list(DIMENSION_NAMES)
        for d in DIMENSION_NAMES:
            dropped = not variant.use_persona or BY_NAME[d].axis == variant.drop_axis
            if dropped:
                assert (origins[d], after[d]) == ("dropped", None)
            elif before[d] is not None:
                assert (origins[d], after[d]) == ("observed", before[d])  # never overwritten
            elif variant.sample_nulls and variant.fill_from == "agent_mode":
                # every agent of ROWS has one row: nothing of its own to impute from
                assert (origins[d], after[d]) == ("none", None)
            elif variant.sample_nulls and d in observed_dims and origins[d] == "sampled":
                assert after[d] in set(priors.filter(pl.col("dimension") == d)["value"])
            elif variant.sample_nulls and d in observed_dims:
                assert variant.sample_rate < 1 and (origins[d], after[d]) == ("none", None)
            else:
                assert (origins[d], after[d]) == ("none", None)
    assert sum(stats["origins"]["tone"].values()) == df.height


@pytest.mark.parametrize("key", ["sp_ft_no_talking", "sp_ft_no_interaction", "sp_ft_no_personal"])
def test_ablation_drops_exactly_its_axis_and_keeps_the_sp_ft_draws(table_and_prior, key):
    df, priors = table_and_prior
    full, _ = apply_variant(df, priors, VARIANTS["sp_ft"], seed=3)
    ablated, _ = apply_variant(df, priors, VARIANTS[key], seed=3)
    axis = VARIANTS[key].drop_axis
    for d in DIMENSION_NAMES:
        if BY_NAME[d].axis == axis:
            assert ablated[d].null_count() == df.height
        else:
            assert ablated[d].to_list() == full[d].to_list()


def test_same_seed_same_rows_bit_for_bit_in_any_order(table_and_prior):
    df, priors = table_and_prior
    a, _ = apply_variant(df, priors, VARIANTS["sp_ft"], seed=11)
    b, _ = apply_variant(df.reverse(), priors, VARIANTS["sp_ft"], seed=11)
    assert a.equals(b.reverse())


def test_different_seeds_draw_differently():
    df = normalize_persona_columns(extraction_frame([{}] * 40 + [{"tone": t} for t in ("calm", "cold", "gentle")]))
    priors = build_priors(df)[0]
    a = apply_variant(df, priors, VARIANTS["sp_ft"], seed=0)[0]["tone"]
    b = apply_variant(df, priors, VARIANTS["sp_ft"], seed=1)[0]["tone"]
    assert a.to_list() != b.to_list()


def _many(n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"tone": ("calm", "cold", "gentle")[i % 3] if rng.random() < 0.4 else None,
             "agent_id": f"a{i % 50}"} for i in range(n)]
    return normalize_persona_columns(extraction_frame(rows))


@pytest.mark.parametrize("key", ["sp_ft_rate25", "sp_ft_rate50"])
def test_sampling_rate_fills_its_share_of_nulls_with_sp_fts_draws(key):
    df = _many()
    priors = build_priors(df)[0]
    full, _ = apply_variant(df, priors, VARIANTS["sp_ft"], seed=5)
    part, stats = apply_variant(df, priors, VARIANTS[key], seed=5)
    nulls = df["tone"].is_null()
    filled = part["tone"].is_not_null() & nulls
    rate = VARIANTS[key].sample_rate
    n = int(nulls.sum())
    # binomial sd of the share at n ~ 1200 nulls is <= 0.015: 4 sd
    assert abs(int(filled.sum()) / n - rate) < 0.06
    assert part.filter(filled)["tone"].to_list() == full.filter(filled)["tone"].to_list()  # SP+FT's draws
    assert part.filter(~nulls)["tone"].to_list() == df.filter(~nulls)["tone"].to_list()  # observed kept
    assert stats["origins"]["tone"]["sampled"] == int(filled.sum())
    if key == "sp_ft_rate50":  # the quarter filled at 0.25 is part of the half filled at 0.5
        quarter = apply_variant(df, priors, VARIANTS["sp_ft_rate25"], seed=5)[0]["tone"].is_not_null() & nulls
        assert not (quarter & ~filled).any()


def test_agent_mode_imputation_by_hand():
    rows = [
        {"agent_id": "a", "hobby": "chess"},
        {"agent_id": "a", "hobby": "golf"},
        {"agent_id": "a", "hobby": "chess"},
        {"agent_id": "a"},
        {"agent_id": "b", "tone": "calm"},
        {"agent_id": "b"},
        {"agent_id": "c"},
    ]
    df = normalize_persona_columns(extraction_frame(rows))
    out, stats = apply_variant(df, build_priors(df)[0], VARIANTS["agent_mode_ft"], seed=0, training=True)
    assert out["hobby"].to_list() == ["chess", "golf", "chess", "chess", None, None, None]
    assert out["tone"].to_list() == [None, None, None, None, "calm", "calm", None]
    origins = [json.loads(o)["hobby"] for o in out["origins"]]
    assert origins == ["observed", "observed", "observed", "imputed", "none", "none", "none"]
    assert stats["origins"]["hobby"] == {"imputed": 1, "none": 3, "observed": 3}
    # At test time it imputes nothing: another test row of the agent may be a later turn.
    test_time, _ = apply_variant(df, build_priors(df)[0], VARIANTS["agent_mode_ft"], seed=0)
    assert test_time["hobby"].to_list() == df["hobby"].to_list() and test_time["tone"].to_list() == df["tone"].to_list()


@pytest.mark.parametrize("key", ["sp_ft_corrupt10", "sp_ft_corrupt30"])
def test_corruption_replaces_its_share_of_observed_values_in_training_only(key):
    df = _many()
    priors = build_priors(df)[0]
    share = VARIANTS[key].corrupt
    sp, _ = apply_variant(df, priors, VARIANTS["sp_ft"], seed=2)
    bad, stats = apply_variant(df, priors, VARIANTS[key], seed=2, training=True)
    observed = df["tone"].is_not_null()
    hit = pl.Series([json.loads(o)["tone"] == "corrupted" for o in bad["origins"]])
    k, n = int((hit & observed).sum()), int(observed.sum())
    assert not (hit & ~observed).any() and k == stats["origins"]["tone"]["corrupted"]
    assert abs(k / n - share) < 0.05  # n ~ 800 observed: binomial sd <= 0.017, 3 sd
    # the nulls are SP+FT's; an unhit observed value is kept
    assert bad.filter(~observed)["tone"].to_list() == sp.filter(~observed)["tone"].to_list()
    assert bad.filter(observed & ~hit)["tone"].to_list() == df.filter(observed & ~hit)["tone"].to_list()
    # at test time (training=False) the variant is SP+FT exactly
    assert apply_variant(df, priors, VARIANTS[key], seed=2)[0]["tone"].to_list() == sp["tone"].to_list()
