"""The weekly chain (assets/automation.py) evaluated tick by tick with Dagster's own evaluator on the real
definitions: nothing before a batch exists, ONE retrain per partition for two batches landed together,
nothing again without new data, the report after the adapters, and the sensor off by default."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.automation import SENSOR_NAME
from assets.definitions import build_definitions
from assets.partitions import BATCH_PARTITIONS_NAME
from vvae_pipeline.backbones import BACKBONE_KEYS
from vvae_pipeline.variants import VARIANT_KEYS

ALL_BV = {f"{b}|{v}" for b in BACKBONE_KEYS for v in VARIANT_KEYS}
CHAIN = ("sft_dataset", "lora_checkpoint", "test_personas", "benchmark_report", "promoted_adapter")


def _next_tick(now: datetime) -> datetime:
    """The next Monday 05:00 UTC (WEEKLY_CRON) strictly after ``now``."""
    day = (now + timedelta(days=(7 - now.weekday()) % 7)).replace(hour=5, minute=0, second=0, microsecond=0)
    return day if day > now else day + timedelta(days=7)


def _materialize(instance, asset: str, partitions=(None,)):
    for p in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=p))


def _requested(result) -> dict[str, set[str]]:
    out = {}
    for key in map(dg.AssetKey, CHAIN):
        parts = result.get_requested_partitions(key)
        if parts:
            out[key.to_user_string()] = {str(p) for p in parts}
    return out


class Ticks:
    def __init__(self, defs, instance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def at(self, when: datetime):
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor,
                                                   evaluation_time=when)
        self.cursor = result.cursor
        return result


@pytest.fixture
def chain(tmp_path):
    return Ticks(build_definitions(home=tmp_path), dg.DagsterInstance.ephemeral())


def test_two_batches_landed_together_make_one_retrain_then_one_report(chain):
    instance = chain.instance
    tick = _next_tick(datetime.now(UTC))
    assert chain.at(tick - timedelta(hours=2)).total_requested == 0  # the first tick only sets the cursor

    # (a) the weekly tick passed, nothing landed yet: nothing runs.
    first = chain.at(tick + timedelta(minutes=5))
    assert first.total_requested == 0, _requested(first)

    # (b) two files landed together: two batch partitions extracted, then the priors rebuilt.
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["a-000000000001", "b-000000000002"])
    _materialize(instance, "persona_extractions", ["a-000000000001", "b-000000000002"])
    # While the daily priors rebuild has not happened yet, the retrain waits for it.
    assert chain.at(tick + timedelta(minutes=10)).total_requested == 0
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    retrain = chain.at(tick + timedelta(minutes=15))
    # One request per backbone x variant for the SFT set and its adapter (one run each: same partition),
    # nothing for the report yet: its inputs are not rebuilt.
    assert _requested(retrain) == {"sft_dataset": ALL_BV, "lora_checkpoint": ALL_BV}
    assert retrain.total_requested == 2 * len(ALL_BV)

    # (c) no new data: nothing again, on the next evaluation or after the runs wrote their results.
    assert chain.at(tick + timedelta(minutes=20)).total_requested == 0
    bv = sorted(ALL_BV)
    _materialize(instance, "sft_dataset", bv)
    _materialize(instance, "lora_checkpoint", bv)
    report = chain.at(tick + timedelta(minutes=25))
    # The adapters are new: one test_personas + benchmark_report + promotion decision per backbone
    # (one report_job-shaped run each).
    assert _requested(report) == {"test_personas": set(BACKBONE_KEYS), "benchmark_report": set(BACKBONE_KEYS),
                                  "promoted_adapter": set(BACKBONE_KEYS)}
    _materialize(instance, "test_personas", BACKBONE_KEYS)
    _materialize(instance, "benchmark_report", BACKBONE_KEYS)
    _materialize(instance, "promoted_adapter", BACKBONE_KEYS)
    assert chain.at(tick + timedelta(minutes=30)).total_requested == 0

    # A week with only the daily priors rebuild (no new batch): no retrain at the next tick.
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    assert chain.at(tick + timedelta(days=7, minutes=5)).total_requested == 0
    # A new batch mid-week after that tick: retrained once, as soon as the priors include it.
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["c-000000000003"])
    _materialize(instance, "persona_extractions", ["c-000000000003"])
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    again = chain.at(tick + timedelta(days=9))
    assert _requested(again) == {"sft_dataset": ALL_BV, "lora_checkpoint": ALL_BV}
    assert chain.at(tick + timedelta(days=9, minutes=5)).total_requested == 0


def test_a_new_batch_before_the_tick_waits_for_it(chain):
    instance = chain.instance
    tick = _next_tick(datetime.now(UTC))
    chain.at(tick - timedelta(days=2))
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["a-000000000001"])
    _materialize(instance, "persona_extractions", ["a-000000000001"])
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    assert chain.at(tick - timedelta(days=1)).total_requested == 0  # new data, but no weekly tick yet
    assert _requested(chain.at(tick + timedelta(minutes=1)))["sft_dataset"] == ALL_BV


def test_the_chain_sensor_is_off_and_no_default_automation_sensor_is_made(tmp_path):
    defs = build_definitions(home=tmp_path)
    sensors = {s.name: s for s in defs.get_repository_def().sensor_defs}
    assert set(sensors) == {"landing_sensor", SENSOR_NAME}  # no default_automation_condition_sensor
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in sensors.values())
    chain = sensors[SENSOR_NAME]
    assert isinstance(chain, dg.AutomationConditionSensorDefinition)
    graph = defs.resolve_asset_graph()
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    assert automated == set(CHAIN)
    # Checks are not automated on their own: they run inside their asset's run.
    assert not [k for k in graph.asset_check_keys if graph.get(k).automation_condition is not None]


@pytest.mark.parametrize("b_done_before", [False, True], ids=["b_new", "b_rerun"])
def test_no_retrain_while_a_batch_is_still_running(chain, b_done_before):
    """Two batches, one batch_job done and the other still running at the tick (a new file: b is also
    missing; a re-extraction of b, e.g. a backfill: only in progress): no retrain until b's run
    finished, then exactly one."""
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.storage.dagster_run import DagsterRunStatus

    instance, defs = chain.instance, chain.defs
    tick = _next_tick(datetime.now(UTC))
    chain.at(tick - timedelta(hours=1))
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["a-000000000001", "b-000000000002"])
    _materialize(instance, "persona_extractions", ["a-000000000001", "b-000000000002"][: 1 + b_done_before])
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    running = instance.create_run_for_job(defs.resolve_job_def("batch_job"), status=DagsterRunStatus.STARTED,
                                          tags={"dagster/partition": "b-000000000002"})
    assert chain.at(tick + timedelta(minutes=5)).total_requested == 0  # b's extraction is in progress
    _materialize(instance, "persona_extractions", ["b-000000000002"])
    instance.report_dagster_event(DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=running.job_name),
                                  running.run_id)
    assert instance.get_run_by_id(running.run_id).status == DagsterRunStatus.SUCCESS
    _materialize(instance, "persona_priors")
    _materialize(instance, "declared_profiles")  # priors_job builds both
    assert _requested(chain.at(tick + timedelta(minutes=10))) == {"sft_dataset": ALL_BV, "lora_checkpoint": ALL_BV}
    assert chain.at(tick + timedelta(minutes=15)).total_requested == 0
