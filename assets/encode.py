"""Encode stage: scrubbed sessions of one landed batch -> persona extractions (the latent z per
example); every batch's extractions -> agent_profiles (per agent, the most frequent value per dimension)."""

import json
from pathlib import Path

import dagster as dg
import polars as pl

from assets.checks import (
    FindingChecks,
    finding_descriptions,
    make_table_checks,
    schema_checks,
)
from assets.config import config_only, param_field
from assets.partitions import batch_partitions
from assets.tables import schema_metadata, table_metadata
from resources.llm import EncoderResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import StorageResource, atomic_write_json
from vvae_pipeline import schemas
from vvae_pipeline.encode.extract import build_items, extract
from vvae_pipeline.encode.garbage import (
    EXTRACTION_FINDINGS,
    batch_findings,
    no_pii_in_extraction_values,
    no_pii_in_values,
)
from vvae_pipeline.params import ExtractParams

# Blocking ERROR checks: the schema, and no name, placeholder or structured PII in an open value
# (extract() nulls such values with reason "pii"; the check holds it to that).
EXTRACTION_CHECKS = schema_checks("persona_extractions", schemas.PersonaExtraction,
                                  no_pii_in_values=no_pii_in_extraction_values)
# WARN unless VVAE_PERSONA_CHECKS=block (assets/checks.py); run on the batch and its scrubbed sessions.
EXTRACTION_GARBAGE = FindingChecks("persona_extractions", finding_descriptions(EXTRACTION_FINDINGS), batch_findings)


class ExtractConfig(dg.Config):
    # None below: the encoder resource decides (its defaults are ExtractParams', or follow its engine).
    max_new_tokens: int | None = config_only(None, "token budget per output; None: the encoder resource's")
    batch_size: int | None = config_only(None, "items per engine call; None: the encoder resource's")
    constrain_open: bool | None = config_only(None, "open fields choose among candidate spans found in the agent's "
                                              "text (small encoders); None: the encoder resource's (True for "
                                              "transformers)")
    max_context_turns: int = param_field(ExtractParams, "max_context_turns")
    max_turn_chars: int = param_field(ExtractParams, "max_turn_chars")
    show_closed_options: bool | None = config_only(None, "list closed value sets in the prompt (~120 tokens; strong "
                                                   "encoders); None: the encoder resource's (True for vllm/openai)")
    closed_evidence: bool = param_field(ExtractParams, "closed_evidence")
    use_capabilities: bool = param_field(ExtractParams, "use_capabilities")
    use_cache: bool = config_only(True, "reuse outputs cached under <home>/cache/extract (keyed by prompt, schema, "
                                  "budget, engine, weights, decoding)")
    truth_path: str | None = config_only(None, "score the batch against this truth table (e.g. the demo's "
                                         "<home>/demo/truth.parquet); None: no scoring")

    def to_params(self, encoder: EncoderResource, cache_dir: Path) -> ExtractParams:
        defaults = encoder.prompt_defaults()
        return ExtractParams(
            max_new_tokens=self.max_new_tokens or encoder.max_new_tokens,
            batch_size=self.batch_size or encoder.batch_size,
            cache_dir=str(cache_dir) if self.use_cache else None,
            constrain_open=defaults["constrain_open"] if self.constrain_open is None else self.constrain_open,
            max_context_turns=self.max_context_turns,
            max_turn_chars=self.max_turn_chars,
            show_closed_options=(defaults["show_closed_options"] if self.show_closed_options is None
                                 else self.show_closed_options),
            closed_evidence=self.closed_evidence,
            use_capabilities=self.use_capabilities,
        )


@dg.asset(
    partitions_def=batch_partitions,
    group_name="encode",
    pool="gpu",  # the encoder holds a GPU as long as training does: one at a time by default
    check_specs=[*EXTRACTION_CHECKS.specs, *EXTRACTION_GARBAGE.specs],
    metadata=schema_metadata(schemas.PersonaExtraction),
    description="One persona z per annotated example (c, x) of the batch: nine grounded values or null "
                "with a reason, plus status, raw output, engine, model and prompt version.",
)
def persona_extractions(context: dg.AssetExecutionContext, config: ExtractConfig, encoder: EncoderResource,
                        storage: StorageResource, pseudonyms: PseudonymKeyResource,
                        scrubbed_sessions: pl.DataFrame):
    batch = context.partition_key
    params = config.to_params(encoder, storage.root / "cache" / "extract")
    items, skipped = build_items(scrubbed_sessions)
    engine = encoder.build_engine(storage.models_dir)
    from assets.progress import library_logs

    context.log.info(f"encoding {items.height} examples of batch {batch} with {engine.name}:{engine.model}")
    from vvae_pipeline.encode.profiles import declared_dicts, declared_profiles

    declared = declared_dicts(declared_profiles(scrubbed_sessions))  # declared values x shows are candidates
    with library_logs(context.log):  # extract's progress lines into the run log (assets/progress.py)
        df, stats = extract(items, engine, params, declared=declared)

    metadata = {
        **table_metadata(schemas.PersonaExtraction, df, storage, "persona_extractions", batch),
        "engine": f"{engine.name}:{engine.model}",
        "status_counts": dg.MetadataValue.json(stats["status"]),
        "grounding_rejections": stats["grounding_rejections"],
        "grounding_rejections_by_dim": dg.MetadataValue.json(stats["grounding_rejections_by_dim"]),
        "off_schema_values": stats["off_schema_values"],
        "null_rate": dg.MetadataValue.json(stats["null_rate"]),
        "skipped_annotations": dg.MetadataValue.json(skipped),
        "cached_items": stats["n_cached"],
        "generated_items": stats["n_generated"],
        "items_per_s": stats["items_per_s"],
        "not_answered_by_engine": dg.MetadataValue.json(stats["not_answered_by_engine"]),
    }
    if config.truth_path:  # scored only when the run config names a truth table
        from vvae_pipeline.encode.quality import QUALITY_FILE, score_batch, summary

        truth = Path(config.truth_path)
        if not truth.exists():
            raise dg.Failure(f"truth_path {truth} does not exist")
        quality = score_batch(df, pl.read_parquet(truth), pseudonyms.key, batch=batch, engine=engine.name,
                              model=engine.model)
        atomic_write_json(storage.artifact_dir("persona_extractions", batch) / QUALITY_FILE, quality)
        metadata.update(quality_macro_f1=quality["macro_f1"], quality=dg.MetadataValue.json(summary(quality)))
        context.log.info(f"encoder quality (macro F1 {quality['macro_f1']}): {json.dumps(summary(quality))}")
    yield dg.Output(df, metadata=metadata)
    yield from EXTRACTION_CHECKS.results(df)
    yield from EXTRACTION_GARBAGE.results(df, scrubbed_sessions)


AGENT_PROFILES = "agent_profiles"


@dg.asset(
    name=AGENT_PROFILES,
    group_name="encode",
    ins={"persona_extractions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    metadata=schema_metadata(schemas.AgentProfile),
    description="Per agent and dimension over every batch: the most frequent grounded value, its count, how many "
                "extractions stated a value and how many the agent has (the agent's test-time persona).",
)
def agent_profiles(context: dg.AssetExecutionContext, persona_extractions: pl.DataFrame) -> dg.MaterializeResult:
    from vvae_pipeline.encode.profiles import agent_profiles as build

    profiles = build(persona_extractions)
    context.log.info(f"{profiles['agent_id'].n_unique()} agent profiles from {persona_extractions.height} extractions")
    return dg.MaterializeResult(value=profiles, metadata={
        **table_metadata(schemas.AgentProfile, profiles), "agents": profiles["agent_id"].n_unique(),
        "dimensions_per_agent": dg.MetadataValue.json(
            {a: n for a, n in profiles.group_by("agent_id").len().sort("agent_id").iter_rows()}),
    })


def _profile_contract(df: pl.DataFrame) -> schemas.ValidationReport:
    """agent_profiles matches schemas.AgentProfile (types, one row per agent and dimension, counts nest)"""
    return schemas.validate(df, schemas.AgentProfile)


agent_profiles_checks = make_table_checks(AGENT_PROFILES, {"agent_profile_contract": _profile_contract,
                                                          "no_pii_in_values": no_pii_in_values})


DECLARED_PROFILES = "declared_profiles"


@dg.asset(
    name=DECLARED_PROFILES,
    group_name="encode",
    ins={"scrubbed_sessions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    metadata=schema_metadata(schemas.DeclaredProfile),
    description="Per agent and dimension over every batch: the persona value the platform declared for the agent "
                "(landing format agent_profile, scrubbed). The detectors' reference persona where present, and the "
                "test-time z under persona_source='declared'. Empty when the data declares none.",
)
def declared_profiles(context: dg.AssetExecutionContext, scrubbed_sessions: pl.DataFrame) -> dg.MaterializeResult:
    from vvae_pipeline.encode.profiles import declared_profiles as build

    table = build(scrubbed_sessions)
    n_agents = table["agent_id"].n_unique() if table.height else 0
    context.log.info(f"{n_agents} agents declared a profile in {scrubbed_sessions.height} sessions")
    return dg.MaterializeResult(value=table, metadata={
        **table_metadata(schemas.DeclaredProfile, table), "agents": n_agents,
        "dimensions": dg.MetadataValue.json({d: n for d, n in table.group_by("dimension").len().sort("dimension")
                                             .iter_rows()} if table.height else {})})


declared_profiles_checks = schema_checks(DECLARED_PROFILES, schemas.DeclaredProfile).definition()
