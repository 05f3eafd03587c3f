"""lora_checkpoint materialized with Dagster on a tiny sft_dataset parquet, training in a real
Dagster Pipes subprocess with the real SmolLM2 on CPU."""

import json
from itertools import islice
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.sft import SFT_CHECKS
from assets.train import TrainConfig, lora_checkpoint
from resources.storage import StorageResource, atomic_write_parquet
from resources.tracking import MLflowResource
from resources.trainer import TrainerResource
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.schemas import MESSAGE, SFTExample, validate
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.stats import TrainStats

PARTITION = "smollm2-135m|ft"
TINY_TRAIN = dict(max_steps=6, batch_size=4, grad_accum=1, max_length=256, learning_rate=1e-3, warmup_ratio=0.0,
                  eval_steps=6, save_steps=3, logging_steps=1)


def sft_frame(shared: Path, n_train: int = 6, n_val: int = 2) -> pl.DataFrame:
    """A schemas.SFTExample table built from real DailyDialog dialogues."""
    rows = []
    for split, name, n in (("train", "train/dialogues_train.txt", n_train),
                           ("validation", "validation/dialogues_validation.txt", n_val)):
        with open(shared / "dailydialog_en" / name) as fh:
            for i, line in enumerate(islice(fh, n)):
                turns = [t.strip() for t in line.split("__eou__") if t.strip()][:4]
                turns = turns[: len(turns) - len(turns) % 2]
                msgs = [{"role": "user" if j % 2 == 0 else "assistant", "content": t} for j, t in enumerate(turns)]
                rows.append({
                    "batch_id": "b0", "source_file": name, "source_line": i + 1,
                    "example_id": f"{split}-{i}", "extraction_id": f"e-{split}-{i}", "session_id": f"s-{split}-{i}",
                    "agent_id": f"agent-{i % 3}", "backbone": "smollm2-135m", "variant": "ft", "split": split,
                    "language": "en", "messages": msgs, "reply": turns[-1],
                    **{d: None for d in DIMENSION_NAMES}, "origins": json.dumps({d: "none" for d in DIMENSION_NAMES}),
                })
    schema = {c: pl.Utf8 for c in rows[0]} | {"source_line": pl.Int64, "messages": pl.List(MESSAGE)}
    return pl.DataFrame(rows, schema=schema)


@pytest.fixture
def storage(tmp_path, models_dir) -> StorageResource:
    return StorageResource(home=str(tmp_path / "vvae"), models=str(models_dir))


def materialize(storage: StorageResource, instance=None, mlflow: MLflowResource | None = None,
                **config) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [lora_checkpoint], partition_key=PARTITION, raise_on_error=False, instance=instance,
        resources={"trainer": TrainerResource(device="cpu", torch_threads=1), "storage": storage,
                   "mlflow": mlflow or MLflowResource(enabled=False)},
        run_config=dg.RunConfig(ops={"lora_checkpoint": TrainConfig(**{**TINY_TRAIN, **config})}),
    )


def test_production_defaults():
    assert TrainConfig().max_steps == -1 and TrainConfig().max_length == 2048


def test_trainer_resource_owns_where_and_in_what_precision_training_runs():
    params = TrainConfig().to_params(**TrainerResource(device="cpu", autocast="off", torch_threads=1).deployment())
    assert (params.device, params.autocast, params.torch_threads) == ("cpu", "off", 1)
    assert TrainConfig().to_params(**TrainerResource().deployment()).autocast == "auto"


def test_missing_sft_dataset_fails_clearly(storage):
    result = materialize(storage)
    assert not result.success
    error = str(result.get_step_failure_events()[0].event_specific_data.error)
    assert "sft_dataset smollm2-135m|ft is not materialized" in error


def test_contract_breaking_sft_dataset_fails_its_blocking_check(shared_data):
    good = [r.passed for r in SFT_CHECKS.results(sft_frame(shared_data))]
    bad = [r for r in SFT_CHECKS.results(sft_frame(shared_data).drop("origins"))]
    assert good == [True]
    assert [r.passed for r in bad] == [False] and "origins" in bad[0].metadata["message"].value
    assert SFT_CHECKS.specs[0].blocking


def test_sft_dataset_without_train_rows_is_refused(storage, shared_data):
    df = sft_frame(shared_data).with_columns(split=pl.lit("validation"))
    atomic_write_parquet(storage.table_path("sft_dataset", PARTITION), df)
    result = materialize(storage)
    assert not result.success
    assert "has no train rows" in str(result.get_step_failure_events()[0].event_specific_data.error)


@pytest.mark.slow
def test_lora_checkpoint_materializes_in_a_pipes_subprocess(storage, shared_data, smollm2_path):
    df = sft_frame(shared_data)
    assert validate(df, SFTExample).passed
    atomic_write_parquet(storage.table_path("sft_dataset", PARTITION), df)

    instance = dg.DagsterInstance.ephemeral()
    tiny = dict(max_steps=2, batch_size=2, max_length=128, eval_steps=2, save_steps=2, lora_r=4, lora_alpha=8,
                lora_targets=["q_proj", "v_proj"])
    result = materialize(storage, instance, **tiny)
    assert result.success
    mat = result.asset_materializations_for_node("lora_checkpoint")[0]
    meta = mat.metadata
    run = RunArtifacts(storage.artifact_dir("lora_checkpoint", PARTITION))
    assert {k: meta[k].value for k in ("adapter", "metrics", "loss_curve", "model_card", "train_log")} == {
        "adapter": str(run.adapter), "metrics": str(run.metrics), "loss_curve": str(run.loss_curve),
        "model_card": str(run.model_card), "train_log": str(run.train_log)}
    assert meta["steps"].value == 2 and meta["train_rows"].value == 6 and meta["validation_rows"].value == 2
    assert meta["base_model"].value == smollm2_path
    # The worker's numeric log lines reached Dagster through Pipes (and no dialogue text did).
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("step 2/2: ") and "eval_loss" in m for m in logs)
    assert not any(df["reply"][0] in m for m in logs)
    assert meta["real_tokens"].value > 0

    metrics = TrainStats.from_json(run.metrics.read_text())
    assert (metrics.backbone, metrics.variant, metrics.steps) == ("smollm2-135m", "ft", 2)
    assert metrics.final_eval_loss == pytest.approx(meta["final_eval_loss"].value)
    assert meta["train_examples_used"].value == metrics.data.train.examples == 6
    assert [p.step for p in metrics.eval_loss] == [2]
    adapter_cfg = json.loads(run.adapter_config.read_text())
    assert adapter_cfg["r"] == 4 and sorted(adapter_cfg["target_modules"]) == ["q_proj", "v_proj"]
    assert (run.checkpoints / "checkpoint-2").is_dir()

    # Re-materializing the same run resumes from its last checkpoint instead of training again.
    from safetensors.torch import load_file

    first = load_file(str(run.adapter_weights))
    again = materialize(storage, instance, **tiny)
    assert again.success
    meta2 = again.asset_materializations_for_node("lora_checkpoint")[0].metadata
    assert meta2["resumed_from_step"].value == 2 and meta2["steps"].value == 2
    second = load_file(str(run.adapter_weights))
    assert first.keys() == second.keys() and all((first[k] == second[k]).all() for k in first)
    assert meta2["final_eval_loss"].value == pytest.approx(meta["final_eval_loss"].value)


def test_trainer_command_uses_accelerate_launch_for_several_processes(tmp_path):
    job = tmp_path / "train_job.json"
    single = TrainerResource(device="cuda").command(job)
    assert single[1:] == ["-m", "resources.train_worker", str(job)]
    multi = TrainerResource(device="cuda", num_processes=4).command(job)
    assert multi[1:4] == ["-m", "accelerate.commands.launch", "--multi_gpu"]
    assert multi[multi.index("--num_processes") + 1] == "4"
    assert multi[-3:] == ["-m", "resources.train_worker", str(job)]
    assert "--cpu" in TrainerResource(device="cpu", num_processes=2).command(job)
