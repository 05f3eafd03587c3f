"""landing_sensor and aggregate_schedule evaluated with real contexts on a temp landing folder."""

import json
from datetime import UTC, datetime

import dagster as dg

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.schedules import aggregate_schedule
from assets.sensors import landing_sensor
from resources.storage import StorageResource
from vvae_pipeline.ingest.landing import batch_key, content_hash


def _write(path, sid):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"session_id": sid, "agent_id": "a", "user_id": "u", "language": "en",
                                "turns": [{"role": "user", "text": "hi"}]}) + "\n")
    return path


def _tick(home, instance, cursor):
    # StorageResource has a lifecycle (it takes the home lock around a run's steps): the context
    # must be entered, as the sensor daemon does.
    with dg.build_sensor_context(instance=instance, cursor=cursor,
                                 resources={"storage": StorageResource(home=str(home))}) as ctx:
        return landing_sensor(ctx)


def _apply(instance, result):
    # What the daemon does with a SensorResult's partition requests.
    for req in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))


def test_each_new_file_is_one_run_and_nothing_runs_twice(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    landing = tmp_path / "landing"
    assert isinstance(_tick(tmp_path, instance, None), dg.SkipReason)  # no folder yet

    a = _write(landing / "a.jsonl", "s1")
    b = _write(landing / "b.parquet.tmp", "s2")  # a writer's temp file: not landed yet
    _write(landing / ".c.jsonl", "s3")  # dot-file still in flight
    first = _tick(tmp_path, instance, None)
    assert isinstance(first, dg.SensorResult)
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [(batch_key(a), content_hash(a))]
    assert first.run_requests[0].tags["vvae/landed_file"] == "a.jsonl"
    assert [list(r.partition_keys) for r in first.dynamic_partitions_requests] == [[batch_key(a)]]
    _apply(instance, first)
    assert instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME) == [batch_key(a)]

    again = _tick(tmp_path, instance, first.cursor)
    assert isinstance(again, dg.SkipReason) and "1 file" in again.skip_message

    b.rename(landing / "b.jsonl")
    c = _write(landing / "c.ndjson", "s4")
    second = _tick(tmp_path, instance, first.cursor)
    keys = sorted(r.partition_key for r in second.run_requests)
    assert keys == sorted([batch_key(landing / "b.jsonl"), batch_key(c)])
    assert batch_key(a) not in keys
    _apply(instance, second)
    assert len(instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)) == 3


def test_edited_file_is_a_new_batch_and_lost_cursor_keeps_run_keys(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    a = _write(tmp_path / "landing" / "a.jsonl", "s1")
    first = _tick(tmp_path, instance, None)
    _apply(instance, first)
    _write(a, "s1-corrected")
    second = _tick(tmp_path, instance, first.cursor)
    assert len(second.run_requests) == 1 and second.run_requests[0].partition_key != first.run_requests[0].partition_key
    assert second.run_requests[0].run_key == content_hash(a) != first.run_requests[0].run_key
    # A lost or corrupt cursor re-requests, but with the same content-hash run keys, so Dagster
    # launches nothing twice; partitions that exist are not re-added.
    replay = _tick(tmp_path, instance, "not json")
    assert [r.run_key for r in replay.run_requests] == [content_hash(a)]
    _apply(instance, second)
    assert _tick(tmp_path, instance, "not json").dynamic_partitions_requests == []


def test_aggregate_schedule_waits_for_a_batch():
    # Schedule contexts need a persistent instance (an ephemeral one has no instance ref).
    tick = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    # Contexts are entered with `with`: a built context that is never exited leaves its instance set
    # as Dagster's current one, and every later Definitions load in the process trips over it.
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as ctx:
            assert isinstance(aggregate_schedule(ctx), dg.SkipReason)
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["a-000000000000", "b-000000000000"])
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as ctx:
            req = aggregate_schedule(ctx)
    assert isinstance(req, dg.RunRequest) and req.tags["vvae/batches"] == "2"
    assert req.run_key == "priors-2026-11-23"  # one run per day, however often the tick is evaluated
    assert aggregate_schedule.job_name == "priors_job" and aggregate_schedule.cron_schedule == "0 3 * * *"
