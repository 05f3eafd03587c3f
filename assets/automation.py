"""The weekly chain: new landed batches -> sft_dataset -> lora_checkpoint -> test_personas -> benchmark_report,
by Dagster declarative automation (``AutomationCondition``), evaluated by one sensor that is off by default.

What runs it upstream is unchanged: ``landing_sensor`` runs ``batch_job`` per landed file and
``aggregate_schedule`` rebuilds ``persona_priors`` every day at 03:00 UTC. The chain then goes:

- ``sft_dataset`` (every backbone x variant): ``retrain_weekly()``. At most one retrain per weekly tick
  (Monday 05:00 UTC, two hours after the Monday priors rebuild), and only when *both* a new
  ``persona_extractions`` partition (a new batch) *and* a new ``persona_priors`` materialization
  arrived since the last retrain, with nothing upstream running. So the priors' daily rebuild alone
  never retrains, and several files landed together (their ``batch_job`` runs queued or running at
  once) make ONE retrain: the condition stays false while any of their runs is in progress.
  A tick with no new batch is kept (``since_last_handled``): the first batch + priors rebuild after it
  starts the retrain, never more than once per tick.
- ``lora_checkpoint``: ``after_upstream()``, requested in the same tick as its ``sft_dataset``
  partition, so both run in one ``train_job``-shaped run per backbone x variant.
- ``test_personas`` / ``benchmark_report`` (per backbone): ``after_upstream()``, ignoring the
  batch-level inputs (a new batch alone retrains nothing): they run once no training of their
  backbone is queued or running, after the adapters updated.
- ``promoted_adapter`` (per backbone): ``after_upstream()``, requested in the same tick as its
  ``benchmark_report``, so the chain ends in the promotion decision.

``after_upstream()`` is ``eager()`` without its "newly missing" branch: turning the sensor on
never launches a run for an adapter that was simply never trained; only an upstream update does.

The sensor ``vvae_weekly_chain`` is created STOPPED (``dagster sensor start vvae_weekly_chain`` or
the UI toggle turns it on). It targets every asset, so Dagster creates no
``default_automation_condition_sensor`` beside it (Dagster 1.13 adds one, also STOPPED, for assets
with a condition that no automation sensor targets; tests/dagster/test_automation.py checks both).
Runs it launches use each asset's config defaults (the production values), not a run preset.
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition
WEEKLY_CRON = "0 5 * * 1"  # Monday 05:00 UTC: after aggregate_schedule's 03:00 priors rebuild
CRON_TIMEZONE = "UTC"
SENSOR_NAME = "vvae_weekly_chain"
BATCH_LEVEL = ("persona_extractions", "persona_priors", "declared_profiles")


def _updated_since_last_handled(deps: dg.AutomationCondition, asset: str) -> dg.AutomationCondition:
    return deps.allow(dg.AssetSelection.assets(asset)).since_last_handled().with_label(
        f"{asset}_updated_since_last_handled")


# Two ``since_last_handled`` conditions on one asset must differ in *structure*: Dagster keys a
# since-condition's stored state by its tree without allow()/ignore() selections or labels, so two
# copies differing only in ``allow`` would share (and overwrite) one state. Hence any_ vs all_.
NEW_BATCH = _updated_since_last_handled(AC.any_deps_match(AC.newly_updated()), "persona_extractions")
NEW_PRIORS = _updated_since_last_handled(AC.all_deps_match(AC.newly_updated()), "persona_priors")


def _idle_and_complete() -> dg.AutomationCondition:
    return ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & ~AC.in_progress()


def retrain_weekly(cron: str = WEEKLY_CRON, timezone: str = CRON_TIMEZONE) -> dg.AutomationCondition:
    """A weekly tick, a new batch and a new priors build since the last retrain, nothing upstream running."""
    return (AC.cron_tick_passed(cron, timezone).since_last_handled()
            & NEW_BATCH
            & NEW_PRIORS
            & _idle_and_complete()).with_label(f"retrain_weekly({cron}, {timezone})")


def after_upstream() -> dg.AutomationCondition:
    """Any chain parent updated since last handled (batch-level inputs ignored), nothing upstream running."""
    updated = AC.any_deps_updated().ignore(dg.AssetSelection.assets(*BATCH_LEVEL)).since_last_handled()
    return (updated & _idle_and_complete()).with_label("after_upstream")


weekly_chain_sensor = dg.AutomationConditionSensorDefinition(
    SENSOR_NAME,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Weekly retrain chain (assets/automation.py): sft_dataset -> lora_checkpoint -> test_personas -> "
                "benchmark_report after new batches. Off by default: `dagster sensor start vvae_weekly_chain`.",
)
