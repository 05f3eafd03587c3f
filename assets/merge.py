"""merged_model: one backbone x variant adapter merged into its base model, for engines without
LoRA support or a deployment that serves one fixed model (docs/serving.md).

Not automated and in no job of the main run: ``merge_job`` (or the asset's Materialize button)
builds it on demand for the partitions someone wants to ship. The merge runs in the step process,
on CPU in float32 under the local profile; the gpu/k8s profiles merge in bfloat16 (half the disk).
"""

import dagster as dg

from assets.config import config_only
from assets.partitions import backbone_variant_partitions
from resources.storage import StorageResource
from resources.trainer import TrainerResource
from vvae_pipeline.llm.models import resolve_model_path


class MergeConfig(dg.Config):
    dtype: str = config_only("auto", "float32 | bfloat16 | auto: float32 when the trainer runs on CPU, else "
                             "bfloat16 (the merge itself runs on CPU)")


@dg.asset(
    partitions_def=backbone_variant_partitions,
    group_name="train",
    deps=["lora_checkpoint"],
    kinds={"pytorch", "safetensors"},
    description="The LoRA adapter merged into its base model (peft merge_and_unload): plain safetensors, config "
                "and tokenizer that load without peft. On demand: merge_job.",
)
def merged_model(context: dg.AssetExecutionContext, config: MergeConfig, storage: StorageResource,
                 trainer: TrainerResource) -> dg.MaterializeResult:
    from vvae_pipeline.train.artifacts import RunArtifacts
    from vvae_pipeline.train.merge import merge_adapter

    backbone = context.partition_key.keys_by_dimension["backbone"]
    trained = RunArtifacts(storage.artifact_dir("lora_checkpoint", context.partition_key))
    adapter = trained.adapter
    if not trained.complete:
        raise FileNotFoundError(f"lora_checkpoint {context.partition_key} is not materialized ({adapter})")
    out_dir = storage.artifact_dir("merged_model", context.partition_key)
    dtype = config.dtype if config.dtype != "auto" else ("float32" if trainer.device == "cpu" else "bfloat16")
    info = merge_adapter(resolve_model_path(backbone, storage.models_dir), adapter, out_dir, dtype=dtype)
    context.log.info(f"merged {adapter} into {info['base_model']} in {info['seconds']} s ({dtype})")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(out_dir)),
        "adapter": dg.MetadataValue.path(str(adapter)),
        "base_model": dg.MetadataValue.text(info["base_model"]),
        "dtype": dg.MetadataValue.text(dtype),
        "parameters": dg.MetadataValue.int(info["parameters"]),
        "bytes": dg.MetadataValue.int(info["bytes"]),
        "seconds": dg.MetadataValue.float(float(info["seconds"])),
    })
