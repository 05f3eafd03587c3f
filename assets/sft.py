"""sft_dataset: one SFT variant for one backbone (partition ``backbone|variant``)."""

import dagster as dg
import polars as pl

from assets.automation import retrain_weekly
from assets.checks import schema_checks
from assets.config import param_field
from assets.partitions import backbone_variant_partitions, split_backbone_variant
from assets.tables import schema_metadata, table_metadata
from resources.storage import StorageResource, atomic_write_bytes, atomic_write_json
from vvae_pipeline import schemas
from vvae_pipeline.params import SFTParams
from vvae_pipeline.sft.artifacts import SFTArtifacts
from vvae_pipeline.sft.build import build_sft, dataset_card

SFT_CHECKS = schema_checks("sft_dataset", schemas.SFTExample)


class SFTConfig(dg.Config):
    seed: int = param_field(SFTParams, "seed")
    split_seed: int = param_field(SFTParams, "split_seed")
    train_fraction: float = param_field(SFTParams, "train_fraction")
    validation_fraction: float = param_field(SFTParams, "validation_fraction")
    test_fraction: float = param_field(SFTParams, "test_fraction")
    max_examples_per_split: int | None = param_field(SFTParams, "max_examples_per_split")

    def to_params(self) -> SFTParams:
        return SFTParams(**self.model_dump())


@dg.asset(
    partitions_def=backbone_variant_partitions,
    group_name="sft",
    ins={"persona_extractions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    # The priors' blocking checks gate this asset; the values it samples come from the train split's
    # own prior (sft.build), so no value seen only in a test reply reaches a training persona.
    deps=["persona_priors"],
    check_specs=SFT_CHECKS.specs,
    metadata=schema_metadata(schemas.SFTExample),
    automation_condition=retrain_weekly(),
    description="Chat-format SFT examples of one variant (FT, P+FT, SP+FT, ablations) with an agent-disjoint "
                "train/validation/test split; the test split is what the benchmark generates on.",
)
def sft_dataset(context: dg.AssetExecutionContext, config: SFTConfig, storage: StorageResource,
                persona_extractions: pl.DataFrame):
    backbone, variant = split_backbone_variant(context)
    df, stats = build_sft(persona_extractions, backbone, variant, config.to_params())
    if df.height == 0:
        raise ValueError(f"sft_dataset {backbone}|{variant}: no usable extraction rows "
                         f"({stats['n_input_rows']} rows, {stats['n_failed_skipped']} failed, "
                         f"{stats['n_blank_reply_skipped']} blank replies)")
    card = dataset_card(stats)
    art = SFTArtifacts(storage.artifact_dir("sft_dataset", context.partition_key))
    atomic_write_bytes(art.card, card.encode())
    atomic_write_json(art.stats, stats)
    context.log.info(f"{backbone}|{variant}: {stats['n_examples']} examples, "
                     + ", ".join(f"{s} {v['examples']}" for s, v in stats["splits"].items()))
    yield dg.Output(df, metadata={
        **table_metadata(schemas.SFTExample, df, storage, "sft_dataset", context.partition_key),
        "dataset_card": dg.MetadataValue.md(card),
        "card_path": dg.MetadataValue.path(str(art.card)),
        "examples": stats["n_examples"],
        **{f"{s}_examples": v["examples"] for s, v in stats["splits"].items()},
        **{f"{s}_agents": v["agents"] for s, v in stats["splits"].items()},
        "with_system_message": stats["with_system_message"],
    })
    yield from SFT_CHECKS.results(df)
