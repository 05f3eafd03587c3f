"""persona_priors / persona_prior_stats / sft_dataset through Dagster, with real resources on a temp home.

persona_extractions is fed as an external asset: one Parquet file per landed batch, written where
the storage resource says, read back through the ParquetIOManager (AllPartitionMapping).
"""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from assets.checks import make_table_checks
from assets.partitions import (
    BATCH_PARTITIONS_NAME,
    backbone_variant_key,
    batch_partitions,
)
from assets.priors import PRIOR_CHECKS, persona_priors
from assets.sft import sft_dataset
from resources.storage import ParquetIOManager, StorageResource, atomic_write_parquet
from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.encode.garbage import PRIOR_FINDINGS
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.priors.checks import PRIOR_RULES, PRIOR_STATS_RULES
from vvae_pipeline.scrub.sessions import SCRUBBED_COLUMNS

EXTRACTIONS = dg.AssetSpec("persona_extractions", partitions_def=batch_partitions)

BATCHES = {
    "b1": [{"agent_id": "a1", "tone": "calm", "hobby": "hiking"}, {"agent_id": "a2", "tone": "calm"},
           {"agent_id": "a3", "tone": "gentle", "emoji": "😂"}],
    "b2": [{"agent_id": "a4", "tone": "calm", "vibe": "warm"}, {"agent_id": "a5", "hobby": "chess"},
           {"agent_id": "a6", "status": "failed", "tone": "cold"}],
}


@pytest.fixture()
def env(tmp_path):
    home = str(tmp_path / "vvae")
    storage = StorageResource(home=home)
    instance = dg.DagsterInstance.ephemeral()
    return {"home": home, "storage": storage, "instance": instance,
            "resources": {"storage": storage, "io_manager": ParquetIOManager(home=home)}}


def land(env, batches: dict[str, list[dict]]) -> pl.DataFrame:
    frames = []
    for batch, rows in batches.items():
        rows = [{"batch_id": batch, "source_file": f"{batch}.jsonl", **r} for r in rows]
        df = extraction_frame(rows).with_columns(extraction_id=pl.lit(f"{batch}-") + pl.col("extraction_id"),
                                                 session_id=pl.lit(f"{batch}-") + pl.col("session_id"))
        atomic_write_parquet(env["storage"].table_path("persona_extractions", batch), df)
        # Their scrubbed sessions declare no agent profile (declared_profiles reads them).
        atomic_write_parquet(
            env["storage"].table_path("scrubbed_sessions", batch), pl.DataFrame(schema=SCRUBBED_COLUMNS)
        )
        frames.append(df)
    env["instance"].add_dynamic_partitions(BATCH_PARTITIONS_NAME, list(batches))
    return pl.concat(frames)


def materialize_priors(env, **kw) -> dg.ExecuteInProcessResult:
    return dg.materialize([EXTRACTIONS, persona_priors, *PRIOR_CHECKS], resources=env["resources"],
                          instance=env["instance"], selection=[persona_priors], **kw)


def checks_by_name(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_priors_from_every_batch_pass_their_blocking_checks(env):
    all_rows = land(env, BATCHES)
    result = materialize_priors(env)
    assert result.success
    priors = pl.read_parquet(env["storage"].table_path("persona_priors"))
    expected, expected_stats, _ = build_priors(all_rows)
    assert priors.equals(expected)  # both batches, failed row left out
    assert pl.read_parquet(env["storage"].table_path("persona_prior_stats")).equals(expected_stats)
    tone = dict(priors.filter(pl.col("dimension") == "tone").select("value", "count").iter_rows())
    assert tone == {"calm": 3, "gentle": 1}

    checks = checks_by_name(result)
    assert set(PRIOR_RULES) | set(PRIOR_STATS_RULES) | set(PRIOR_FINDINGS) | {"prior_drift"} == set(checks)
    assert all(c.passed for c in checks.values())
    assert all(spec.blocking for d in PRIOR_CHECKS[:2] for spec in d.check_specs)

    meta = result.asset_materializations_for_node("persona_priors")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in meta}
    chart = by_key["persona_priors"]["top_values"].value
    assert chart.startswith("![top prior values per dimension](data:image/png;base64,iVBOR")  # a PNG
    png = (env["storage"].artifact_dir("persona_priors") / "top_values.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert by_key["persona_prior_stats"]["null_rate/hobby"].value == pytest.approx(1 - 2 / 5)
    # Missingness and orthogonality of the same usable rows: hobby null in 3 of 5, heatmap inline.
    structure = by_key["persona_prior_stats"]["missingness_and_orthogonality"].value
    assert "| hobby | personal | 60% [" in structure and "(3/5)" in structure
    assert "data:image/png;base64,iVBOR" in structure
    saved = json.loads((env["storage"].artifact_dir("persona_priors") / "structure.json").read_text())
    assert saved["missingness"]["dimensions"]["hobby"]["nulls"] == 3 and saved["missingness"]["n"] == 5


def test_drift_check_warns_with_the_top_changed_values(env):
    land(env, {"b1": [{"agent_id": "a1", "tone": "calm"}, {"agent_id": "a2", "tone": "calm"}]})
    first = checks_by_name(materialize_priors(env))["prior_drift"]
    assert first.passed and "first materialization" in first.metadata["message"].value

    land(env, {"b2": [{"agent_id": f"x{i}", "tone": "cold"} for i in range(6)]})
    drift = checks_by_name(materialize_priors(env))["prior_drift"]
    # tone moved from calm 1.0 to calm 0.25 / cold 0.75: JSD well above the 0.1 bit threshold.
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    assert drift.metadata["jsd/tone"].value > 0.3 and drift.metadata["jsd/hobby"].value == 0.0
    table = drift.metadata["drift"].value
    assert "cold: 0.0 -> 0.75" in table and "calm: 1.0 -> 0.25" in table
    assert "tone" in drift.metadata["message"].value


@pytest.mark.parametrize("corrupt", [True, False])
def test_failed_blocking_check_stops_sft_dataset(env, corrupt):
    land(env, BATCHES)
    good, _, _ = build_priors(pl.read_parquet(env["storage"].table_path("persona_extractions", "b1")))

    @dg.asset(name="persona_priors")
    def test_priors() -> pl.DataFrame:
        if not corrupt:
            return good
        # Probabilities of "tone" no longer sum to 1.
        return good.with_columns(probability=pl.when(pl.col("dimension") == "tone")
                                 .then(pl.col("probability") / 2).otherwise(pl.col("probability")))

    # The factory's checks bound to the same asset key, with the real sft_dataset downstream, one run.
    checks = make_table_checks("persona_priors", PRIOR_RULES)
    result = dg.materialize([EXTRACTIONS, test_priors, checks, sft_dataset], resources=env["resources"],
                            instance=env["instance"], selection=[test_priors, sft_dataset],
                            partition_key=backbone_variant_key("smollm2-135m", "sp_ft"), raise_on_error=False)
    evals = checks_by_name(result)
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    sft_path = env["storage"].table_path("sft_dataset", "smollm2-135m|sp_ft")
    if not corrupt:  # the same run with a sound prior reaches sft_dataset
        assert result.success and all(e.passed for e in evals.values())
        assert "sft_dataset" in materialized and sft_path.exists()
        return
    assert not result.success
    failed = evals["probabilities_sum_to_one"]
    assert not failed.passed
    assert "tone: sum 0.50000000" in failed.metadata["message"].value
    assert evals["probabilities_match_counts"].passed is False and evals["schema"].passed
    assert "sft_dataset" not in materialized and not sft_path.exists()


def test_sft_dataset_partition_with_card(env):
    all_rows = land(env, BATCHES)
    assert materialize_priors(env).success
    key = backbone_variant_key("smollm2-135m", "sp_ft")
    run_config = dg.RunConfig({"sft_dataset": {"config": {"seed": 3, "split_seed": 4, "train_fraction": 0.6,
                                                         "validation_fraction": 0.2, "test_fraction": 0.2}}})
    result = dg.materialize([EXTRACTIONS, persona_priors, sft_dataset], resources=env["resources"],
                            instance=env["instance"], selection=[sft_dataset], partition_key=key,
                            run_config=run_config)
    assert result.success
    df = pl.read_parquet(env["storage"].table_path("sft_dataset", "smollm2-135m|sp_ft"))
    assert df.height == all_rows.filter(pl.col("status") != "failed").height
    assert set(df["batch_id"]) == {"b1", "b2"} and set(df["variant"]) == {"sp_ft"}
    assert set(df["split"]) == {"train", "validation", "test"}  # 5 agents, each split gets one
    card_path = env["storage"].artifact_dir("sft_dataset", "smollm2-135m|sp_ft") / "dataset_card.md"
    card = card_path.read_text()
    meta = result.asset_materializations_for_node("sft_dataset")[0].metadata
    assert meta["dataset_card"].value == card and f"{df.height} examples" in card
    stats = json.loads((card_path.parent / "stats.json").read_text())
    assert (stats["params"]["seed"], stats["params"]["split_seed"]) == (3, 4) and meta["test_examples"].value == (
        df["split"] == "test"
    ).sum()


def test_priors_job_of_the_code_location_runs_every_prior_check(env):
    """The job CI and the schedule run: both prior tables and all their checks, through Dagster."""
    from assets.definitions import build_definitions

    land(env, BATCHES)
    defs = build_definitions("local", env["home"])
    result = defs.resolve_job_def("priors_job").execute_in_process(instance=env["instance"])
    assert result.success
    evals = result.get_asset_check_evaluations()
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evals}
    assert names == ({("persona_priors", r) for r in [*PRIOR_RULES, *PRIOR_FINDINGS, "prior_drift"]}
                     | {("persona_prior_stats", r) for r in PRIOR_STATS_RULES}
                     | {("agent_profiles", "agent_profile_contract"), ("agent_profiles", "no_pii_in_values"),
                        ("declared_profiles", "schema")})
    assert all(e.passed for e in evals)
