"""Jobs, one per partition set (Dagster runs one partitions definition per run).

The main job (assets/main.py) runs them in order; the landing sensor runs ``batch_job``
for each new batch and the aggregate schedule runs the rest.
"""

import dagster as dg

from assets.partitions import (
    backbone_partitions,
    backbone_variant_partitions,
    batch_partitions,
)

batch_job = dg.define_asset_job(
    "batch_job",
    selection=dg.AssetSelection.assets("raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions",
                                       "persona_extractions"),
    partitions_def=batch_partitions,
    description="Ingest, scrub and encode one landed batch.",
)
priors_job = dg.define_asset_job(
    "priors_job",
    selection=dg.AssetSelection.assets("persona_priors", "persona_prior_stats", "agent_profiles", "declared_profiles"),
    description="Rebuild the empirical persona priors and the agent profiles (extracted and declared) from every "
                "batch and run their checks.",
)
train_job = dg.define_asset_job(
    "train_job",
    selection=dg.AssetSelection.assets("sft_dataset", "lora_checkpoint"),
    partitions_def=backbone_variant_partitions,
    description="Build one SFT variant for one backbone and fine-tune its LoRA adapter.",
)
report_job = dg.define_asset_job(
    "report_job",
    selection=dg.AssetSelection.assets("test_personas", "benchmark_report", "promoted_adapter"),
    partitions_def=backbone_partitions,
    description="Infer the test-time personas, generate on the test split with every adapter of a backbone "
                "(and the registry's champion), write the report and decide the champion.",
)
merge_job = dg.define_asset_job(
    "merge_job",
    selection=dg.AssetSelection.assets("merged_model"),
    partitions_def=backbone_variant_partitions,
    description="On demand: merge one backbone x variant adapter into its base model (plain safetensors).",
)
JOBS = [batch_job, priors_job, train_job, report_job, merge_job]
