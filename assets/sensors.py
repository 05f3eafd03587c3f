"""The landing sensor: each new file in the landing folder becomes one batch_job run.

A file's batch key (``<stem>-<sha256[:12]>``, vvae_pipeline.ingest.landing.batch_key) is its dynamic
partition, so a key names one content. A key is requested only when nothing has done that batch yet:
its ``persona_extractions`` partition (the batch's last asset) is not materialized, and no batch_job
run for it is queued or running. That covers what run keys cannot see: the main job runs batch_job
in process without a run key, and a backfill has none either. The run key is still the file's full
content hash (the same content never runs twice from this sensor, even if the cursor is lost). The
cursor is the sorted list of batch keys already requested or found done. While a main job holds the
home's lock (resources/home_lock.py) the sensor skips its tick: one writer per home.
"""

import json

import dagster as dg

from assets.jobs import batch_job
from assets.partitions import batch_partitions
from resources.storage import StorageResource

# The batch's last asset: materialized for a key means the batch was ingested, scrubbed and encoded.
DONE_ASSET = dg.AssetKey("persona_extractions")


def _seen(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    try:
        return set(json.loads(cursor))
    except (ValueError, TypeError):
        # A cursor from an older format: start over; the instance says what is done.
        return set()


def done_batches(instance: dg.DagsterInstance, keys) -> dict[str, str]:
    """{batch key: why it needs no run} for the keys already materialized or with a batch_job run in flight."""
    keys = set(keys)
    if not keys:
        return {}
    done = {k: "already materialized" for k in keys & instance.get_materialized_partitions(DONE_ASSET)}
    in_flight = instance.get_run_records(dg.RunsFilter(job_name=batch_job.name, statuses=[
        dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]))
    for rec in in_flight:
        key = rec.dagster_run.tags.get("dagster/partition")
        if key in keys and key not in done:
            done[key] = f"run {rec.dagster_run.run_id[:8]} in flight"
    return done


@dg.sensor(job=batch_job, minimum_interval_seconds=30,
           description="New file in $VVAE_HOME/landing -> add its batch partition and run batch_job for it, "
                       "unless that batch is already materialized or running.")
def landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    from resources.home_lock import lock_holder
    from vvae_pipeline.ingest.landing import content_hash, list_landed

    holder = lock_holder(storage.root)
    if holder:
        return dg.SkipReason(f"{storage.root} is in use by {holder}; trying again next tick")
    seen = _seen(context.cursor)
    landed = list_landed(storage.landing_dir)
    new = [(key, path) for key, path in landed if key not in seen]
    if not new:
        return dg.SkipReason(f"no new landed file ({len(landed)} file(s) already requested)")
    done = done_batches(context.instance, [key for key, _ in new])
    todo = [(key, path) for key, path in new if key not in done]
    for key, why in sorted(done.items()):
        context.log.info(f"{key}: {why}, not requested")
    existing = set(context.instance.get_dynamic_partitions(batch_partitions.name))
    to_add = [key for key, _ in new if key not in existing]
    cursor = json.dumps(sorted(seen | {key for key, _ in new}))
    if not todo and not to_add:
        return dg.SensorResult(skip_reason=f"{len(done)} new file(s), every batch already done "
                                           f"({'; '.join(f'{k}: {w}' for k, w in sorted(done.items()))})",
                               cursor=cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=content_hash(path), partition_key=key,
                                    tags={"vvae/landed_file": path.name}) for key, path in todo],
        dynamic_partitions_requests=[batch_partitions.build_add_request(to_add)] if to_add else [],
        cursor=cursor,
    )


SENSORS = [landing_sensor]
