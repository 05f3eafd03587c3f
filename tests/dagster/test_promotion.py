"""promoted_adapter materialized on three weekly benchmark summaries written by the real
evaluate.run / evaluate.report code, with the real MLflow registry (SQLite store under the
storage root): the first adapter becomes champion, a clearly better challenger is promoted, a
worse one is kept. The champion's adapter is fetched from the registry and scored in the same
benchmark run as the challenger; what each adapter "generates" is a policy file inside its
folder (no model: generating with SmolLM2 is what tests/dagster/test_report_asset.py covers)."""

import json
import logging
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import backbone_partitions
from assets.promotion import PROMOTION_CHECK, promoted_adapter
from resources.storage import StorageResource
from resources.tracking import MLflowResource, read_run_ids
from tests.dagster.test_tracking import fake_trained
from tests.support.benchmark_frames import EXAMPLES, make_test_rows, sft_frame
from vvae_pipeline.evaluate import report, run
from vvae_pipeline.params import BenchmarkParams, DialogBenchParams
from vvae_pipeline.variants import VARIANT_KEYS

BACKBONE = "smollm2-135m"
HUMAN_REPLY = {user: reply for _, _, _, _, user, reply, _ in EXAMPLES}


@dg.asset(partitions_def=backbone_partitions, name="benchmark_report")
def _report_stub():
    raise AssertionError("not selected: summary.json is written by the test")


class PolicyGenerator:
    """generate_all as the benchmark calls it; each adapter folder's policy.txt says what it replies:
    "human" the human reply to the prompt's last user turn, "flat" a reply no detector fires on."""

    def __init__(self):
        self.seen: dict[str, str] = {}

    def generate_all(self, jobs, decoding):
        out = {}
        for system, (adapter, prompts) in jobs.items():
            policy = (Path(adapter) / "policy.txt").read_text() if adapter else "flat"
            self.seen[system] = policy
            out[system] = [HUMAN_REPLY[p[-1]["content"]] if policy == "human" else "ok." for p in prompts]
        return out


def train(storage, tracker, policy: str) -> dict:
    out = storage.artifact_dir("lora_checkpoint", f"{BACKBONE}|sp_ft")
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    stats = fake_trained(out)
    (out / "adapter" / "policy.txt").write_text(policy)
    return tracker.log_training(backbone=BACKBONE, variant="sp_ft", out_dir=out, stats=stats, tags={})


def benchmark(storage, tracker) -> tuple[dict, PolicyGenerator]:
    """What benchmark_report does around run_benchmark, with a policy generator."""
    trained_dir = storage.root / "artifacts" / "lora_checkpoint" / BACKBONE
    out_dir = storage.artifact_dir("benchmark_report", BACKBONE)
    run_ids = read_run_ids(trained_dir, VARIANT_KEYS)
    champion, registry = tracker.champion_for_benchmark(BACKBONE, run_ids.get("sp_ft"), out_dir / "champion_adapter")
    df = sft_frame(variants=("ft", "sp_ft"))
    inputs = run.BenchmarkInputs(BACKBONE, "base", df, make_test_rows(df),
                                 {"sp_ft": str(trained_dir / "sp_ft" / "adapter")},
                                 deployment={"registry": registry}, champion_adapter=champion)
    gen = PolicyGenerator()
    res = run.run_benchmark(inputs, gen, BenchmarkParams(max_test_prompts=6, shots=(), include_base=False,
                                                          bootstrap_samples=300), DialogBenchParams())
    summary = report.write_report(res, out_dir).summary
    tracker.log_benchmark(summary, run_ids)
    return summary, gen


def decide(storage, mlflow):
    result = dg.materialize([_report_stub, promoted_adapter], selection=[promoted_adapter], partition_key=BACKBONE,
                            resources={"storage": storage, "mlflow": mlflow}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    mat = result.asset_materializations_for_node("promoted_adapter")[0]
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == PROMOTION_CHECK and check.severity == dg.AssetCheckSeverity.WARN
    return mat.metadata, check


@pytest.mark.slow
def test_weekly_champion_challenger(tmp_path):
    storage, mlflow = StorageResource(home=str(tmp_path)), MLflowResource()
    tracker = mlflow.tracker(storage.root, logging.getLogger())

    # Week 1: the first adapter of the backbone becomes champion (nothing to compare with).
    v1 = train(storage, tracker, "flat")
    summary, gen = benchmark(storage, tracker)
    assert "champion" not in gen.seen
    meta, check = decide(storage, mlflow)
    assert check.passed and "first adapter" in check.description
    assert tracker.champion(BACKBONE)["version"] == v1["version"] == "1"

    # Week 2: a challenger that replies like the humans, scored beside the champion fetched from the
    # registry on the same prompts: closer beyond the paired interval, so promoted.
    v2 = train(storage, tracker, "human")
    summary, gen = benchmark(storage, tracker)
    assert gen.seen == {"sp_ft": "human", "champion": "flat"}
    comp = next(c for c in summary["comparisons"] if (c["a"], c["b"]) == ("sp_ft", "champion"))
    assert comp["ci"][1] < 0
    assert summary["settings"]["registry"]["champion_version"] == "1"
    meta, check = decide(storage, mlflow)
    assert check.passed, check.description
    assert tracker.champion(BACKBONE)["version"] == v2["version"] == "2"
    assert meta["champion_version"].value == "2" and meta["previous_champion_version"].value == "1"
    assert "| challenger | 2 | 0.000" in meta["systems"].value and "| champion | 1 |" in meta["systems"].value
    assert meta["distance_difference"].value["difference"] == pytest.approx(comp["difference"])
    # The report's numbers are on the training run of that week.
    m = tracker.client.get_run(v2["run_id"]).data.metrics
    assert m["bench/distance"] == pytest.approx(0.0) and m["bench/vs_champion/distance_difference_hi"] < 0

    # Week 3: a challenger further from human than the champion: kept, and the check says why.
    v3 = train(storage, tracker, "flat")
    summary, gen = benchmark(storage, tracker)
    assert gen.seen == {"sp_ft": "flat", "champion": "human"}
    meta, check = decide(storage, mlflow)
    assert not check.passed and "does not lie below 0" in check.description
    assert tracker.champion(BACKBONE)["version"] == "2" and v3["version"] == "3"
    assert meta["challenger_version"].value == "3" and meta["champion_version"].value == "2"
    assert "DialogBench not run for both systems" in check.description
    decision = json.loads((storage.artifact_dir("promoted_adapter", BACKBONE) / "decision.json").read_text())
    assert decision["promoted"] is False and decision["champion_now"] == "2"
    # What serving reads still names week 2's adapter, in a copy week 3's training did not overwrite.
    served = json.loads((storage.artifact_dir("promoted_adapter", BACKBONE) / "champion.json").read_text())
    assert served["version"] == "2" and (Path(served["adapter_path"]) / "policy.txt").read_text() == "human"
    from vvae_pipeline.llm.serving import champion_json_path, read_champion

    assert read_champion(champion_json_path(BACKBONE, storage.root)) == \
        Path(served["adapter_path"])
