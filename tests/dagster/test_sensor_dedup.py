"""landing_sensor against what is materialized, with real batch_job runs on a real instance:
main -> sensor (the main job ran the batch in process, without a run key: the sensor skips it)
and sensor -> main (the main job's batch_job on the batch the sensor's run materialized succeeds
and duplicates nothing). The encoder is a local OpenAI-compatible stub (no model)."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from assets.definitions import build_definitions
from assets.partitions import BATCH_PARTITIONS_NAME
from assets.sensors import DONE_ASSET, done_batches, landing_sensor
from resources.home_lock import home_lock
from resources.storage import StorageResource
from tests.dagster.test_encode_asset import _Endpoint
from vvae_pipeline.ingest.demo import generate_demo
from vvae_pipeline.ingest.landing import batch_key


@pytest.fixture
def home(tmp_path, monkeypatch):
    ep = _Endpoint()
    monkeypatch.setenv("VVAE_ENCODER_BASE_URL", ep.url)
    monkeypatch.setenv("VVAE_ENCODER_MODEL", "served")
    monkeypatch.setenv("VVAE_MLFLOW", "off")
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=1, turns_per_session=4, annotations_per_session=1)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "week1.jsonl").write_text("".join(json.dumps(s) + "\n" for s in sessions))
    yield tmp_path
    ep.httpd.shutdown()


def _tick(home, instance, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"storage": StorageResource(home=str(home))}) as ctx:
        return landing_sensor(ctx)


def _requests(result) -> list[dg.RunRequest]:
    return [] if isinstance(result, dg.SkipReason) else list(result.run_requests or [])


def _run_batch(home, instance, key, tags=None):
    """batch_job for one batch, in process: how the main job runs it (tags=None) or the daemon a request."""
    job = build_definitions(home=home).resolve_job_def("batch_job")
    res = job.execute_in_process(instance=instance, partition_key=key, tags=tags, raise_on_error=False)
    assert res.success
    return res


def _extractions(home, key) -> pl.DataFrame:
    return pl.read_parquet(StorageResource(home=str(home)).table_path("persona_extractions", key))


def test_main_then_sensor_skips_the_batch_the_main_job_materialized(home):
    instance = dg.DagsterInstance.ephemeral()
    key = batch_key(home / "landing" / "week1.jsonl")
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [key])  # what the main job does first
    _run_batch(home, instance, key)
    assert key in instance.get_materialized_partitions(DONE_ASSET)

    first = _tick(home, instance)  # a fresh sensor: no cursor, no run key of its own for this file
    assert _requests(first) == []
    assert "already materialized" in first.skip_reason.skip_message
    assert json.loads(first.cursor) == [key]
    # A lost cursor comes to the same answer: the instance, not the cursor, says what is done.
    assert _requests(_tick(home, instance, "not json")) == []

    # A new file next to it is still requested, alone.
    (home / "landing" / "week2.jsonl").write_text((home / "landing" / "week1.jsonl").read_text().replace(
        '"session_id": "', '"session_id": "w2-'))
    second = _tick(home, instance, first.cursor)
    assert [r.partition_key for r in _requests(second)] == [batch_key(home / "landing" / "week2.jsonl")]


def test_sensor_then_main_reuses_the_batch_without_failing_or_duplicating(home):
    instance = dg.DagsterInstance.ephemeral()
    first = _tick(home, instance)
    (req,) = _requests(first)
    for r in first.dynamic_partitions_requests:
        instance.add_dynamic_partitions(r.partitions_def_name, list(r.partition_keys))
    _run_batch(home, instance, req.partition_key, tags={**req.tags, "dagster/run_key": req.run_key})
    before = _extractions(home, req.partition_key)
    assert before.height > 0

    # The main job on the same home skips the batch (assets/main.py asks done_batches first) ...
    assert done_batches(instance, [req.partition_key]) == {req.partition_key: "already materialized"}
    # ... and with --recompute: the partition exists (not re-added), its batch_job run succeeds.
    assert instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, req.partition_key)
    _run_batch(home, instance, req.partition_key)
    after = _extractions(home, req.partition_key)
    assert after.height == before.height
    assert after.select("session_id", "turn_index").n_unique() == after.height  # nothing duplicated
    # And another tick, even with its cursor lost, requests nothing more.
    assert _requests(_tick(home, instance, None)) == []


def test_a_half_done_batch_is_requested_and_a_held_home_is_skipped(home):
    instance = dg.DagsterInstance.ephemeral()
    key = batch_key(home / "landing" / "week1.jsonl")
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [key])
    # raw_sessions done but the run died before persona_extractions: the batch is not done.
    instance.report_runless_asset_event(dg.AssetMaterialization("raw_sessions", partition=key))
    assert [r.partition_key for r in _requests(_tick(home, instance))] == [key]
    with home_lock(home, what="test"):
        held = _tick(home, instance)
    assert isinstance(held, dg.SkipReason) and "in use by pid" in held.skip_message
    instance.report_runless_asset_event(dg.AssetMaterialization("persona_extractions", partition=key))
    assert _requests(_tick(home, instance)) == []
