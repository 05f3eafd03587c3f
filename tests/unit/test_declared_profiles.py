"""Declared agent profiles (landing format ``agent_profile``): the table, the test-time z under
``persona_source="declared"``, and the detectors' reference persona."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.support.benchmark_frames import make_test_rows, sft_frame
from tests.support.fake_engine import FakeEngine
from vvae_pipeline.encode.profiles import declared_dicts, declared_profiles
from vvae_pipeline.evaluate import benchmark
from vvae_pipeline.evaluate.deployment_persona import infer_test_personas
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.params import BenchmarkParams, ExtractParams
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.schemas import DeclaredProfile, validate

# Written for this test; no demo persona or lexicon entry uses these values.
KESTREL = {"catchphrase": "steady as a kettle", "hobby": "bell ringing", "emoji": "🔔"}


def _sessions(rows):
    return pl.DataFrame([{"agent_id": a, "agent_profile": None if p is None else json.dumps(p)} for a, p in rows],
                        schema={"agent_id": pl.Utf8, "agent_profile": pl.Utf8})


def test_declared_profiles_majority_per_dimension():
    table = declared_profiles(_sessions([
        ("agent_kestrel", KESTREL), ("agent_kestrel", {**KESTREL, "hobby": "fell walking"}),
        ("agent_kestrel", KESTREL), ("agent_kestrel", None), ("agent_quiet", None)]))
    assert validate(table, DeclaredProfile).passed
    got = {(r["dimension"], r["value"]): (r["n_declaring"], r["n_sessions"]) for r in table.iter_rows(named=True)}
    assert got == {("catchphrase", "steady as a kettle"): (3, 3), ("emoji", "🔔"): (3, 3),
                   ("hobby", "bell ringing"): (2, 3)}
    assert table["dimension"].to_list() == ["catchphrase", "emoji", "hobby"]  # latent order
    assert declared_dicts(table) == {"agent_kestrel": {d: KESTREL.get(d) for d in DIMENSION_NAMES}}
    # No agent declared anything, or a table scrubbed before the column existed: empty, same schema.
    assert declared_profiles(_sessions([("a", None)])).is_empty()
    assert declared_profiles(pl.DataFrame({"agent_id": ["a"]})).columns == table.columns


def _test_extractions():
    frame = sft_frame()
    return make_test_rows(frame).drop("status").with_columns(status=pl.lit("ok")), frame


def test_declared_source_sets_z_and_skips_the_encoder_for_declaring_agents():
    test, _ = _test_extractions()
    declared = {"agent_luna": {d: KESTREL.get(d) for d in DIMENSION_NAMES}}
    engine = FakeEngine()
    rows, stats = infer_test_personas(test, engine, ExtractParams(), declared=declared, source="declared")
    luna = rows.filter(pl.col("agent_id") == "agent_luna")
    other = rows.filter(pl.col("agent_id") != "agent_luna")
    assert luna["status"].unique().to_list() == ["declared"] and stats["n_declared"] == luna.height == 3
    assert luna["catchphrase"].unique().to_list() == ["steady as a kettle"] and luna["tone"].null_count() == 3
    assert "declared" not in other["status"].to_list()
    assert sum(engine.calls) == other.height  # the encoder ran only for the agent without a profile
    # The default protocol ignores declared profiles: z comes from the context for everyone.
    rows_c, stats_c = infer_test_personas(test, FakeEngine(), ExtractParams(), declared=declared)
    assert stats_c["n_declared"] == 0 and "steady as a kettle" not in rows_c["catchphrase"].drop_nulls().to_list()
    with pytest.raises(ValueError, match="persona source"):
        infer_test_personas(test, FakeEngine(), ExtractParams(), declared=declared, source="profile")


def test_declared_profile_is_the_detectors_reference():
    test, frame = _test_extractions()
    priors = build_priors(test)[0]
    params = BenchmarkParams(max_test_prompts=6, shots=(), bootstrap_samples=50)
    trained = {"ft": True, "sp_ft": True}
    plain = benchmark.plan(test, frame, priors, trained, params)
    declared = benchmark.plan(test, frame, priors, trained, params,
                              declared={"agent_luna": {"catchphrase": "steady as a kettle"}})
    agents = plain.examples["agent_id"].to_list()
    for agent, before, after in zip(agents, plain.personas, declared.personas, strict=True):
        if agent == "agent_luna":
            assert before["catchphrase"] == "no worries at all" and after["catchphrase"] == "steady as a kettle"
            assert after["hobby"] == before["hobby"] == "stargazing"  # undeclared: the extracted reference
        else:
            assert after == before
    # So the human CP rate is measured against the declared phrase: Luna's replies never say it.
    replies = declared.examples["reply"].to_list()
    outputs = {j.system: replies for j in declared.jobs}
    human_plain = benchmark.score(plain, {j.system: replies for j in plain.jobs}, params).human
    human_declared = benchmark.score(declared, outputs, params).human
    assert human_declared["cp"] < human_plain["cp"]
