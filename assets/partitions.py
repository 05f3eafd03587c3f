"""Partitions of the vvae DAG.

- landing batches (dynamic): one per landed file, so a new batch costs only its own size in
  ingestion, scrubbing and extraction;
- backbone (static, from the registry in vvae_pipeline.backbones);
- backbone x variant (two dimensions, the most Dagster allows) for SFT sets and adapters.
"""

import dagster as dg

from vvae_pipeline.backbones import BACKBONE_KEYS
from vvae_pipeline.variants import VARIANT_KEYS

BATCH_PARTITIONS_NAME = "landing_batch"
batch_partitions = dg.DynamicPartitionsDefinition(name=BATCH_PARTITIONS_NAME)
backbone_partitions = dg.StaticPartitionsDefinition(list(BACKBONE_KEYS))
variant_partitions = dg.StaticPartitionsDefinition(list(VARIANT_KEYS))
backbone_variant_partitions = dg.MultiPartitionsDefinition(
    {"backbone": backbone_partitions, "variant": variant_partitions}
)
# benchmark_report (per backbone) reads every variant of its backbone.
by_backbone = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="backbone")


def backbone_variant_key(backbone: str, variant: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"backbone": backbone, "variant": variant})


def split_backbone_variant(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["backbone"], keys["variant"]
