"""The landing sensor: each new file in the landing folder becomes one batch_job run.

A file's batch key (``<stem>-<sha256[:12]>``, vvae_pipeline.ingest.landing.batch_key) is its dynamic
partition; the run key is the file's full content hash, so the same content never runs twice,
even if the cursor is lost. The cursor is the sorted list of batch keys already requested.
"""

import json

import dagster as dg

from assets.jobs import batch_job
from assets.partitions import batch_partitions
from resources.storage import StorageResource


def _seen(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    try:
        return set(json.loads(cursor))
    except (ValueError, TypeError):
        # A cursor from an older format: start over; run keys still stop duplicate runs.
        return set()


@dg.sensor(job=batch_job, minimum_interval_seconds=30,
           description="New file in $VVAE_HOME/landing -> add its batch partition and run batch_job for it.")
def landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
    from vvae_pipeline.ingest.landing import content_hash, list_landed

    seen = _seen(context.cursor)
    landed = list_landed(storage.landing_dir)
    new = [(key, path) for key, path in landed if key not in seen]
    if not new:
        return dg.SkipReason(f"no new landed file ({len(landed)} file(s) already requested)")
    existing = set(context.instance.get_dynamic_partitions(batch_partitions.name))
    to_add = [key for key, _ in new if key not in existing]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=content_hash(path), partition_key=key,
                                    tags={"vvae/landed_file": path.name}) for key, path in new],
        dynamic_partitions_requests=[batch_partitions.build_add_request(to_add)] if to_add else [],
        cursor=json.dumps(sorted(seen | {key for key, _ in new})),
    )


SENSORS = [landing_sensor]
