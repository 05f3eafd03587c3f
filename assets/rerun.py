"""What a rerun of the main job reuses, and the runs it must not write beside.

A home is run again every week, after a crash, or by accident. The main job

- skips a landed batch whose ``persona_extractions`` partition is already materialized (its key is
  the file's content hash, so materialized means this content was ingested, scrubbed and encoded;
  ``--recompute`` redoes it), the same test the landing sensor uses (``done_batches``);
- says, per step it ran, what came from earlier work (extraction cache, a finished adapter
  reloaded, a training run resumed) and what was computed now, from the step's own metadata;
- refuses to start while a run launched elsewhere (the landing sensor, the UI, a schedule) is queued
  or running on its Dagster instance, and marks failed the in-flight runs of an earlier main job,
  which can only be dead: this process holds the home's lock (resources/home_lock.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

# Tag on every run the main job executes: a run with it still "in flight" while this process holds
# the home's lock belongs to a main job that died (kill -9, power loss).
MAIN_JOB_TAG = "vvae/main_job"
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


class RunsInFlight(RuntimeError):
    """Runs launched outside the main job are queued or running on the same instance."""


def settle_in_flight_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark the dead main job's runs failed (their ids) and raise RunsInFlight for anyone else's.

    Call with the home's lock held: the main job runs its jobs in its own process, so a run tagged
    MAIN_JOB_TAG that still says STARTED was left by a process that no longer holds the lock."""
    records = instance.get_run_records(dg.RunsFilter(statuses=IN_FLIGHT))
    ours = [r.dagster_run for r in records if r.dagster_run.tags.get(MAIN_JOB_TAG)]
    others = [r.dagster_run for r in records if not r.dagster_run.tags.get(MAIN_JOB_TAG)]
    if others:
        listed = ", ".join(f"{run.job_name} {run.run_id[:8]} ({run.status.value})" for run in others[:5])
        raise RunsInFlight(f"{len(others)} run(s) launched outside the main job are queued or running on this "
                           f"instance ({listed}): one writer per home. Wait for them to finish, or terminate "
                           f"them in the UI (make dev, Runs), then run again")
    for run in ours:
        instance.report_run_failed(run, "the main job that ran it was killed; a new main job holds the home now")
    return [run.run_id for run in ours]


@dataclass(frozen=True)
class StepWork:
    """One materialization's reuse, as the main job prints it."""

    asset: str
    partition: str
    reused: bool  # nothing was computed again
    text: str


def _num(metadata: dict, key: str) -> int | None:
    value = metadata.get(key)
    value = getattr(value, "value", value)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def step_work(asset: str, partition: str, metadata: dict) -> StepWork | None:
    """Reuse read off a materialization's metadata; None for assets that always recompute (cheap)."""
    if asset == "persona_extractions":
        cached, generated = _num(metadata, "cached_items"), _num(metadata, "generated_items")
        if cached is None or generated is None:
            return None
        return StepWork(asset, partition, generated == 0,
                        f"{cached} extraction(s) from the cache, {generated} generated")
    if asset == "lora_checkpoint":
        steps, resumed = _num(metadata, "steps"), _num(metadata, "resumed_from_step")
        if steps is None or resumed is None:
            return None
        if resumed and resumed >= steps:
            return StepWork(asset, partition, True, f"finished adapter reloaded (step {steps}), not retrained")
        if resumed:
            return StepWork(asset, partition, False, f"training resumed at step {resumed} of {steps}")
        return StepWork(asset, partition, False, f"trained {steps} steps")
    if asset == "benchmark_report":
        return StepWork(asset, partition, False, "replies generated and scored again")
    return None


def materialization_work(events) -> list[StepWork]:
    """StepWork for every ASSET_MATERIALIZATION among a run's events."""
    out = []
    for ev in events:
        if ev.event_type_value != "ASSET_MATERIALIZATION":
            continue
        mat = ev.event_specific_data.materialization
        work = step_work(mat.asset_key.to_user_string(), mat.partition or "", dict(mat.metadata or {}))
        if work:
            out.append(work)
    return out
