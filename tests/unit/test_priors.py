"""Priors from tiny extraction tables; each prior rule fails on a table corrupted for it; drift."""

from __future__ import annotations

import math

import polars as pl
import pytest

from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.priors.build import build_priors, prior_drift
from vvae_pipeline.priors.checks import PRIOR_RULES, PRIOR_STATS_RULES
from vvae_pipeline.schemas import PersonaPrior, PriorStats, validate

ROWS = [
    {"tone": "calm", "emoji": ":joy:", "hobby": "Hiking"},
    {"tone": "Happy", "hobby": "hiking", "relationship": "best friend"},
    {"tone": "calm", "catchphrase": "you know"},
    {"tone": "gentle", "status": "retried"},
    {"tone": "cold", "hobby": "chess", "status": "failed"},  # failed: left out of the prior
]


@pytest.fixture()
def built():
    return build_priors(extraction_frame(ROWS))


def test_counts_probabilities_and_normalisation(built):
    priors, stats_df, stats = built
    tone = dict(priors.filter(pl.col("dimension") == "tone").select("value", "probability").iter_rows())
    # "Happy" is the synonym of "cheerful"; the failed row's "cold" is not counted.
    assert tone == {"calm": 0.5, "cheerful": 0.25, "gentle": 0.25}
    hobby = priors.filter(pl.col("dimension") == "hobby")
    assert hobby.select("value", "count").rows() == [("hiking", 2)]  # "Hiking" and "hiking" are one value
    assert priors.filter(pl.col("dimension") == "emoji")["value"].to_list() == ["😂"]
    assert priors.filter(pl.col("dimension") == "relationship")["value"].to_list() == ["close_friend"]
    assert stats["n_rows"] == 4 and stats["n_failed_rows"] == 1
    by_dim = {r["dimension"]: r for r in stats_df.iter_rows(named=True)}
    assert by_dim["tone"]["null_rate"] == 0.0 and by_dim["tone"]["n_distinct"] == 3
    assert by_dim["hobby"]["n_observed"] == 2 and by_dim["hobby"]["null_rate"] == 0.5
    assert by_dim["nickname"]["n_observed"] == 0 and by_dim["nickname"]["null_rate"] == 1.0
    assert stats_df["dimension"].to_list() == list(DIMENSION_NAMES)


def test_built_tables_pass_every_rule(built):
    priors, stats_df, _ = built
    assert validate(priors, PersonaPrior).passed and validate(stats_df, PriorStats).passed
    for name, rule in PRIOR_RULES.items():
        assert rule(priors).passed, name
    for name, rule in PRIOR_STATS_RULES.items():
        assert rule(stats_df).passed, name


def test_no_usable_rows_gives_empty_prior_and_full_null_rates():
    priors, stats_df, _ = build_priors(extraction_frame([{"tone": "calm", "status": "failed"}]))
    assert priors.height == 0
    assert stats_df["null_rate"].to_list() == [1.0] * len(DIMENSION_NAMES)
    assert all(rule(stats_df).passed for rule in PRIOR_STATS_RULES.values())


def _set(df: pl.DataFrame, row: int, **values) -> pl.DataFrame:
    return df.with_columns([pl.when(pl.int_range(pl.len()) == row).then(pl.lit(v)).otherwise(pl.col(c))
                            .alias(c) for c, v in values.items()])


PRIOR_CORRUPTIONS = {
    "dimensions_in_latent_space": (lambda df: _set(df, 0, dimension="mood"), "mood"),
    "values_normalised": (lambda df: _set(df, 1, value="CALM "), "CALM"),
    "counts_positive": (lambda df: _set(df, 0, count=0), "count >= 1"),
    "probabilities_in_range": (lambda df: _set(df, 0, probability=1.5), "(0, 1]"),
    "probabilities_sum_to_one": (lambda df: _set(df, 0, probability=0.4), "sum"),
    "probabilities_match_counts": (lambda df: _set(df, 4, count=5), "count / dimension total"),
    "dimension_value_unique": (lambda df: pl.concat([df, df.head(1)]), "unique"),
    "schema": (lambda df: df.drop("axis"), "axis"),
}


@pytest.mark.parametrize("rule", sorted(PRIOR_CORRUPTIONS))
def test_each_prior_rule_fails_its_corruption_with_a_readable_message(built, rule):
    priors = built[0].sort("dimension", "value")
    corrupt, expected_text = PRIOR_CORRUPTIONS[rule]
    report = PRIOR_RULES[rule](corrupt(priors))
    assert not report.passed
    assert expected_text in report.summary()


STATS_CORRUPTIONS = {
    "one_row_per_dimension": (lambda df: df.filter(pl.col("dimension") != "vibe"), "vibe x0"),
    "null_rates_consistent": (lambda df: _set(df, 2, null_rate=0.9), "null_rate"),
    "schema": (lambda df: _set(df, 0, n_rows=-1), "n_rows"),
}


@pytest.mark.parametrize("rule", sorted(STATS_CORRUPTIONS))
def test_each_stats_rule_fails_its_corruption(built, rule):
    corrupt, expected_text = STATS_CORRUPTIONS[rule]
    report = PRIOR_STATS_RULES[rule](corrupt(built[1]))
    assert not report.passed and expected_text in report.summary()


def _prior(dim_probs: dict[str, dict[str, float]]) -> pl.DataFrame:
    return pl.DataFrame([{"dimension": d, "value": v, "probability": p}
                         for d, vp in dim_probs.items() for v, p in vp.items()])


@pytest.mark.parametrize(("old", "new", "jsd"), [
    ({"calm": 0.5, "gentle": 0.5}, {"calm": 0.5, "gentle": 0.5}, 0.0),
    ({"calm": 1.0}, {"gentle": 1.0}, 1.0),  # disjoint supports: the maximum, 1 bit
    # 0.5*(0.5 log2(0.5/0.375) + 0.5 log2(0.5/0.625)) + 0.5*(0.25 log2(0.25/0.375) + 0.75 log2(0.75/0.625))
    ({"calm": 0.5, "gentle": 0.5}, {"calm": 0.25, "gentle": 0.75},
     0.5 * (0.5 * math.log2(0.5 / 0.375) + 0.5 * math.log2(0.5 / 0.625))
     + 0.5 * (0.25 * math.log2(0.25 / 0.375) + 0.75 * math.log2(0.75 / 0.625))),
])
def test_drift_jsd(old, new, jsd):
    drift = prior_drift(_prior({"tone": old}), _prior({"tone": new}))
    row = drift.filter(pl.col("dimension") == "tone").row(0, named=True)
    assert row["jsd"] == pytest.approx(jsd, abs=1e-12)
    assert drift.height == len(DIMENSION_NAMES)


def test_drift_names_top_changed_values_and_one_sided_dimensions():
    old = _prior({"tone": {"calm": 0.7, "gentle": 0.2, "cold": 0.1}})
    new = _prior({"tone": {"calm": 0.2, "gentle": 0.3, "cold": 0.5}, "hobby": {"chess": 1.0}})
    drift = {r["dimension"]: r for r in prior_drift(old, new, top_k=2).iter_rows(named=True)}
    # Moves of 0.5, 0.4 and 0.1: the two largest, largest first.
    assert drift["tone"]["top_changes"] == ["calm: 0.7 -> 0.2", "cold: 0.1 -> 0.5"]
    assert drift["hobby"]["jsd"] == 1.0  # appeared from nothing
    assert drift["vibe"]["jsd"] == 0.0 and drift["vibe"]["top_changes"] == []


def test_a_name_or_placeholder_never_enters_the_prior():
    rows = [{"nickname": "Emily", "topic": "mortgage"}, {"nickname": "[NAME_1]", "topic": "chess"},
            {"nickname": "kiddo", "topic": "mail lin.w@example.com"}]
    priors, _, stats = build_priors(extraction_frame(rows))
    assert set(priors.filter(pl.col("dimension") == "nickname")["value"]) == {"kiddo"}
    assert set(priors.filter(pl.col("dimension") == "topic")["value"]) == {"mortgage", "chess"}
    assert stats["n_values_left_out_pii"] == 3
    assert PRIOR_RULES["no_pii_in_values"](priors).passed


def test_a_name_never_enters_an_agent_profile():
    from vvae_pipeline.encode.profiles import agent_profiles

    rows = [
        {"nickname": "Emily", "agent_id": "a"},
        {"nickname": "Emily", "agent_id": "a"},
        {"nickname": "kiddo", "agent_id": "a"},
    ]
    profiles = agent_profiles(extraction_frame(rows))
    assert profiles.filter(pl.col("dimension") == "nickname")["value"].to_list() == ["kiddo"]
