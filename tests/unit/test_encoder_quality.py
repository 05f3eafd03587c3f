"""Quality tables (intervals, baselines), agent profiles and the real-corpus label rules."""

from __future__ import annotations

import polars as pl
import pytest

from vvae_pipeline import latent
from vvae_pipeline.encode import real_corpora as rc
from vvae_pipeline.encode.profiles import agent_profiles, profile_dict
from vvae_pipeline.encode.quality import (
    dimension_report,
    hobby_match,
    markdown,
    rate_ci,
    score,
    score_batch,
    summary,
)
from vvae_pipeline.schemas import AgentProfile, validate
from vvae_pipeline.scrub.pseudonyms import pseudonym


def test_rate_intervals_are_wilson_rounded_and_absent_without_n():
    assert rate_ci(0, 0) is None  # precision of an encoder that never answers: undefined, no interval
    assert rate_ci(8, 10) == (0.4902, 0.9433)  # Wilson 8/10 = (0.490162, 0.943318), rounded to 4 places
    assert rate_ci(0, 20)[0] == 0.0 and rate_ci(20, 20)[1] == 1.0


def test_report_has_baselines_that_are_what_they_must_be():
    true = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), None, None]
    pred = ["a", None, "b", "a", None]
    rep = dimension_report(pred, true)
    assert (rep["n_correct"], rep["n_pred"], rep["n_true"]) == (2, 3, 3)
    assert rep["precision"] == round(2 / 3, 4) and rep["recall"] == round(2 / 3, 4)
    assert rep["null_rate"] == 0.4 and rep["true_null_rate"] == 0.4
    maj, null = rep["baselines"]["majority"], rep["baselines"]["always_null"]
    assert rep["majority_value"] == "a" and (maj["precision"], maj["recall"]) == (0.4, round(2 / 3, 4))
    assert null["precision"] is None and null["recall"] == 0.0 and null["f1"] == 0.0 and null["null_rate"] == 1.0
    lo, hi = rep["f1_ci"]
    assert 0.0 <= lo <= rep["f1"] <= hi <= 1.0


def test_score_precision_recall_null_rate_and_markdown():
    keys = {"session_id": ["a", "a", "b", "c"], "turn_index": [1, 3, 1, 1]}
    truth = pl.DataFrame({**keys, **{d: [None] * 4 for d in latent.DIMENSION_NAMES}},
                         schema_overrides={d: pl.Utf8 for d in latent.DIMENSION_NAMES}).with_columns(
        pl.Series("catchphrase", ["you bet", None, "得了吧", "far out"]), pl.Series("tone", ["calm"] * 4))
    pred = truth.with_columns(pl.Series("catchphrase", ["You Bet", "made up", None, "far out"]),
                              pl.Series("tone", ["calm", "calm", "cold", None]))
    result = score(pred, truth)
    cp, tone = result["dimensions"]["catchphrase"], result["dimensions"]["tone"]
    assert (cp["precision"], cp["recall"], cp["null_rate"]) == (round(2 / 3, 4), round(2 / 3, 4), 0.25)
    assert (tone["precision"], tone["recall"], tone["null_rate"]) == (round(2 / 3, 4), 0.5, 0.25)
    assert tone["baselines"]["majority"]["precision"] == 1.0  # every truth is "calm"
    assert result["dimensions"]["hobby"]["precision"] is None and result["n_matched"] == 4
    table = markdown(result, "t")
    assert "| tone | majority (calm) | 1.00" in table and "always null" in table
    # uncertainty.fmt_ci: point [interval]; a missing point is "-" without an interval
    assert "| tone | encoder | 0.67 [0.21, 0.94] (2/3) | 0.50 [0.15, 0.85] (2/4) | 0.57 [0.00, 1.00] |" in table
    assert "| hobby | encoder | - (0/0) | - (0/0) | - | 1.00 / 1.00 |" in table
    with pytest.raises(ValueError, match="lacks columns"):
        score(pred, truth.drop("hobby"))


def test_hobby_match_is_loose_but_not_anything():
    assert hobby_match("poetry", frozenset({"writing poetry"}))
    assert hobby_match("painting", frozenset({"paints"}))
    assert not hobby_match("tennis", frozenset({"hunting", "poetry"}))


def _extractions(rows):
    cols = {d: pl.Utf8 for d in latent.DIMENSION_NAMES}
    return pl.DataFrame(rows, schema={"agent_id": pl.Utf8, "language": pl.Utf8, "status": pl.Utf8, **cols})


def test_agent_profiles_most_frequent_value_with_counts():
    nulls = {d: None for d in latent.DIMENSION_NAMES}
    ex = _extractions([
        {"agent_id": "a", "language": "en", "status": "ok", **nulls, "emoji": "🙃", "tone": "calm"},
        {"agent_id": "a", "language": "en", "status": "ok", **nulls, "emoji": "🙃", "tone": "cold"},
        {"agent_id": "a", "language": "en", "status": "retried", **nulls, "emoji": "🔔", "tone": "cold"},
        {"agent_id": "a", "language": "en", "status": "failed", **nulls, "emoji": "🔔"},
        {"agent_id": "b", "language": "zh", "status": "ok", **nulls, "hobby": "书法"},
    ])
    prof = agent_profiles(ex)
    assert validate(prof, AgentProfile).passed
    row = prof.filter(pl.col("agent_id") == "a", pl.col("dimension") == "emoji").row(0, named=True)
    assert (row["value"], row["count"], row["n_observed"], row["n_extractions"]) == ("🙃", 2, 3, 3)
    assert profile_dict(prof, "a")["tone"] == "cold" and profile_dict(prof, "a")["hobby"] is None
    assert profile_dict(prof, "b") == {d: ("书法" if d == "hobby" else None) for d in latent.DIMENSION_NAMES}
    assert prof.filter(pl.col("agent_id") == "a")["dimension"].to_list() == ["emoji", "tone"]
    assert agent_profiles(ex.head(0)).height == 0
    broken = prof.with_columns(pl.lit(99).cast(pl.Int64).alias("count"))
    assert not validate(broken, AgentProfile).passed  # count > n_observed


def test_real_corpus_label_rules():
    assert rc.cped_personality("high") == "outgoing" and rc.cped_personality("low") == "introverted"
    assert rc.cped_personality("unknown") is None
    hob = rc.profile_hobbies(["i try various coffees as a hobby.", "i enjoy poetry.", "i like to go hunting."])
    assert {"poetry", "hunting", "various coffees"} <= set(hob)
    assert rc.profile_personality(["i am very shy.", "i have two dogs."]) == ["shy"]


def test_evaluate_counts_agents_recovered():
    ex = pl.DataFrame([{"session_id": f"s{i}", "turn_index": 1, "agent_id": "a", "language": "zh", "status": "ok",
                        **{d: None for d in latent.DIMENSION_NAMES}, "personality": p}
                       for i, p in enumerate(("outgoing", None))]
                      + [{"session_id": "s2", "turn_index": 1, "agent_id": "b", "language": "zh", "status": "ok",
                          **{d: None for d in latent.DIMENSION_NAMES}}],
                      schema_overrides={d: pl.Utf8 for d in latent.DIMENSION_NAMES})
    # Labels per example (real_corpora.KEYS); CPED's personality is the agent's, on each of its examples.
    labels = pl.DataFrame({"session_id": ["s0", "s1", "s2"], "turn_index": [1, 1, 1], "agent_id": ["a", "a", "b"],
                           "personality": [["outgoing"], ["outgoing"], ["introverted"]],
                           "vibe": [None, None, None], "tone": [None, None, None]},
                          schema_overrides={"vibe": pl.List(pl.Utf8), "tone": pl.List(pl.Utf8)})
    res = rc.evaluate("cped", ex, labels)["dimensions"]["personality"]
    assert res["agent_recovered"]["k"] == 1 and res["agent_recovered"]["n"] == 2
    assert res["baselines"]["majority"]["n_correct"] == 2  # "outgoing" is 2 of the 3 examples' truth


def test_a_batch_is_scored_against_truth_named_by_platform_session_ids():
    dims = latent.DIMENSION_NAMES
    row = {d: None for d in dims}
    extractions = pl.DataFrame([{"session_id": pseudonym("session", "s1", "k"), "turn_index": 3,
                                 **row, "nickname": "Sunny"}])
    truth = pl.DataFrame([{"session_id": "s1", "turn_index": 3, **row, "nickname": "sunny"}])
    quality = score_batch(extractions, truth, "k", batch="b1", engine="fake")
    assert quality["n_matched"] == 1 and (quality["batch"], quality["engine"]) == ("b1", "fake")
    assert summary(quality)["nickname"] == {"precision": 1.0, "recall": 1.0, "null_rate": 0.0}
    assert score_batch(extractions, truth, "another key")["n_matched"] == 0  # the ids are pseudonyms under the key
