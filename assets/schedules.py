"""The aggregate schedule: rebuild the persona priors from every landed batch once a day.

Batches arrive through the landing sensor at any time; the priors read all of them, so they are
re-materialized on a clock (03:00 UTC, after a day's batches) rather than after each batch.
"""

import dagster as dg

from assets.jobs import priors_job
from assets.partitions import BATCH_PARTITIONS_NAME


@dg.schedule(job=priors_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
             description="Re-materialize persona_priors and persona_prior_stats from every batch.")
def aggregate_schedule(context: dg.ScheduleEvaluationContext):
    batches = context.instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)
    if not batches:
        return dg.SkipReason("no landed batch yet: nothing to aggregate")
    # One run per scheduled tick; the run key makes a re-evaluated tick idempotent.
    return dg.RunRequest(run_key=f"priors-{context.scheduled_execution_time:%Y-%m-%d}",
                         tags={"vvae/batches": str(len(batches))})


SCHEDULES = [aggregate_schedule]
