"""lora_checkpoint: one LoRA adapter per backbone x variant, trained on that partition's sft_dataset.

The run happens in a subprocess (TrainerResource, Dagster Pipes) inside the "gpu" concurrency
pool, so at most one training holds the accelerator at a time (the pool's limit lives in the
instance config: ``concurrency: pools: default_limit: 1``). The files it leaves are
vvae_pipeline.train.artifacts.RunArtifacts under storage.artifact_dir("lora_checkpoint", partition);
what the materialization shows is artifacts.checkpoint_metadata of them and the run's TrainStats.
"""


import dagster as dg
import polars as pl

from assets.automation import after_upstream
from assets.config import param_field
from assets.partitions import backbone_variant_partitions, split_backbone_variant
from resources.storage import StorageResource
from resources.tracking import MLflowResource
from resources.trainer import TrainerResource
from vvae_pipeline.llm.models import resolve_model_path
from vvae_pipeline.params import LoraParams, TrainParams
from vvae_pipeline.train.artifacts import RunArtifacts, checkpoint_metadata
from vvae_pipeline.train.stats import TrainStats, params_to_dict


class TrainConfig(dg.Config):
    """Per-run training knobs; the defaults are the production values (7B-class backbone, one H100).
    Device, dtype and threads are the deployment's: TrainerResource."""

    lora_r: int = param_field(LoraParams, "r")
    lora_alpha: int = param_field(LoraParams, "alpha")
    lora_dropout: float = param_field(LoraParams, "dropout")
    lora_targets: list[str] | None = param_field(LoraParams, "target_modules")
    lora_top_layers: int | None = param_field(LoraParams, "top_layers")
    max_steps: int = param_field(TrainParams, "max_steps")
    num_epochs: float = param_field(TrainParams, "num_epochs")
    batch_size: int = param_field(TrainParams, "batch_size")
    grad_accum: int = param_field(TrainParams, "grad_accum")
    learning_rate: float = param_field(TrainParams, "learning_rate")
    warmup_ratio: float = param_field(TrainParams, "warmup_ratio")
    lr_scheduler: str = param_field(TrainParams, "lr_scheduler")
    max_length: int = param_field(TrainParams, "max_length")
    eval_steps: int = param_field(TrainParams, "eval_steps")
    save_steps: int = param_field(TrainParams, "save_steps")
    logging_steps: int = param_field(TrainParams, "logging_steps")
    save_total_limit: int = param_field(TrainParams, "save_total_limit")
    seed: int = param_field(TrainParams, "seed")
    packing: str = param_field(TrainParams, "packing")
    group_by_length: bool = param_field(TrainParams, "group_by_length")
    use_liger: str = param_field(TrainParams, "use_liger")
    gradient_checkpointing: bool = param_field(TrainParams, "gradient_checkpointing")
    attn_implementation: str = param_field(TrainParams, "attn_implementation")

    def to_params(self, **deployment) -> TrainParams:
        """The library's params; ``deployment`` (device, dtype, torch_threads) comes from TrainerResource."""
        d = self.model_dump()
        lora = LoraParams(r=d.pop("lora_r"), alpha=d.pop("lora_alpha"), dropout=d.pop("lora_dropout"),
                          target_modules=tuple(t) if (t := d.pop("lora_targets")) else None,
                          top_layers=d.pop("lora_top_layers"))
        return TrainParams(lora=lora, **d, **deployment)


@dg.asset(
    partitions_def=backbone_variant_partitions,
    group_name="train",
    deps=["sft_dataset"],
    pool="gpu",
    kinds={"pytorch"},
    automation_condition=after_upstream(),
    description="LoRA adapter (PEFT folder) fine-tuned on this backbone x variant SFT set, with metrics, "
                "loss curve, model card and training log.",
)
def lora_checkpoint(context: dg.AssetExecutionContext, config: TrainConfig, trainer: TrainerResource,
                    storage: StorageResource, mlflow: MLflowResource) -> dg.MaterializeResult:
    backbone, variant = split_backbone_variant(context)
    data_path = storage.table_path("sft_dataset", context.partition_key)
    if not data_path.exists():
        raise FileNotFoundError(f"sft_dataset {context.partition_key} is not materialized ({data_path})")
    # The table's schema is sft_dataset's blocking check; here only what training itself needs.
    counts = dict(pl.read_parquet(data_path, columns=["split"]).group_by("split").len().iter_rows())
    if not counts.get("train"):
        raise ValueError(f"sft_dataset {context.partition_key} has no train rows (splits: {counts})")

    run = RunArtifacts(storage.artifact_dir("lora_checkpoint", context.partition_key))
    base_model = resolve_model_path(backbone, storage.models_dir)
    params = params_to_dict(config.to_params(**trainer.deployment()))
    stats = trainer.train(context, data_path=data_path, base_model=base_model, out_dir=run.out_dir, params=params,
                          backbone=backbone, variant=variant)
    context.log.info(f"{backbone}/{variant}: {stats.steps} steps, final eval loss {stats.final_eval_loss}")
    tracked = track_training(context, mlflow, storage, data_path, run, stats, counts)
    return dg.MaterializeResult(metadata={**tracked, **checkpoint_metadata(run, stats, counts)})


def track_training(context: dg.AssetExecutionContext, mlflow: MLflowResource, storage: StorageResource,
                   data_path, run: RunArtifacts, stats: TrainStats, counts: dict) -> dict:
    """The MLflow run of this materialization (best effort: a failure is a warning, see
    vvae_pipeline/train/tracking.py); its run id and registry version as metadata."""
    import time

    from vvae_pipeline.hashing import sha256_file
    from vvae_pipeline.llm.engines import weights_fingerprint
    from vvae_pipeline.sft.artifacts import SFTArtifacts

    if not mlflow.enabled:
        return {}
    t0 = time.perf_counter()
    backbone, variant = split_backbone_variant(context)
    sft_stats = SFTArtifacts(storage.artifact_dir("sft_dataset", context.partition_key)).scalar_stats()
    tags = {"dagster_run_id": context.run_id, "dagster_partition": context.partition_key,
            "dagster_asset": "lora_checkpoint", "sft_sha256": sha256_file(data_path), "base_model": stats.base_model,
            "base_model_fingerprint": weights_fingerprint(stats.base_model)}
    extra = {"sft": {"rows": counts, **sft_stats}}
    info = mlflow.tracker(storage.root, context.log).log_training(
        backbone=backbone, variant=variant, out_dir=run.out_dir, stats=stats, tags=tags, extra_params=extra)
    if not info:
        return {"mlflow_run_id": dg.MetadataValue.text("not tracked (see the warning in the log)")}
    context.log.info(f"MLflow run {info['run_id']}, {info['registered_model']} version {info['version']} "
                     f"({time.perf_counter() - t0:.1f} s)")
    return {"mlflow_run_id": info["run_id"], "mlflow_model": f"{info['registered_model']}/{info['version']}",
            "mlflow_seconds": float(round(time.perf_counter() - t0, 2))}
