"""The benchmark stage: test_personas (the test-time z a deployment could have) and benchmark_report.

``benchmark_report`` gathers its declared inputs, calls ``evaluate.run.run_benchmark`` and turns the
result into metadata; where it generates (transformers or vLLM, CPU or CUDA) is the profile's
GeneratorResource, never a per-run setting.
"""

import json
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl

from assets.automation import after_upstream
from assets.checks import schema_checks
from assets.config import param_field
from assets.encode import ExtractConfig
from assets.partitions import backbone_partitions, by_backbone
from assets.priors import PRIORS, STRUCTURE_FILE
from assets.progress import library_logs
from assets.tables import schema_metadata, table_metadata
from resources.llm import EncoderResource, GeneratorResource, PromptingResource
from resources.storage import StorageResource
from resources.tracking import MLflowResource, read_run_ids
from vvae_pipeline import schemas
from vvae_pipeline.evaluate.systems import SP_FT
from vvae_pipeline.params import BenchmarkParams, DecodingParams, DialogBenchParams
from vvae_pipeline.variants import VARIANT_KEYS

REPORT = dg.AssetKey("benchmark_report")
TEST_PERSONA_CHECKS = schema_checks("test_personas", schemas.TestPersona)


class ReportConfig(dg.Config):
    max_test_prompts: int = param_field(BenchmarkParams, "max_test_prompts")
    shots: list[int] = param_field(BenchmarkParams, "shots")
    include_base: bool = param_field(BenchmarkParams, "include_base")
    oracle_diagnostic: bool = param_field(BenchmarkParams, "oracle_diagnostic")
    bootstrap_samples: int = param_field(BenchmarkParams, "bootstrap_samples")
    seed: int = param_field(BenchmarkParams, "seed")  # also DecodingParams.seed and DialogBenchParams.seed
    max_new_tokens: int = param_field(DecodingParams, "max_new_tokens")
    do_sample: bool = param_field(DecodingParams, "do_sample")
    temperature: float = param_field(DecodingParams, "temperature")
    top_p: float = param_field(DecodingParams, "top_p")
    repetition_penalty: float = param_field(DecodingParams, "repetition_penalty")
    batch_size: int = param_field(DecodingParams, "batch_size")
    max_prompt_tokens: int = param_field(DecodingParams, "max_prompt_tokens")
    dialogbench_items_per_task: int = param_field(DialogBenchParams, "items_per_task")
    dialogbench_tasks: list[str] = param_field(DialogBenchParams, "tasks")
    dialogbench_systems: list[str] = param_field(DialogBenchParams, "systems")
    headline_protocol: Literal["declared", "context"] = param_field(BenchmarkParams, "headline_protocol")

    def to_params(self) -> tuple[BenchmarkParams, DialogBenchParams]:
        decoding = DecodingParams(self.max_new_tokens, self.do_sample, self.temperature, self.top_p,
                                  self.repetition_penalty, self.batch_size, self.max_prompt_tokens, self.seed)
        bench = BenchmarkParams(self.max_test_prompts, tuple(self.shots), self.include_base, self.oracle_diagnostic,
                                self.bootstrap_samples, decoding, self.seed, self.headline_protocol)
        db = DialogBenchParams(items_per_task=self.dialogbench_items_per_task, tasks=tuple(self.dialogbench_tasks),
                               systems=tuple(self.dialogbench_systems), seed=self.seed)
        return bench, db


def _test_extractions(sft: pl.DataFrame, extractions: pl.DataFrame, backbone: str) -> pl.DataFrame:
    sft = sft.filter(pl.col("backbone") == backbone) if "backbone" in sft.columns else sft
    test_ids = sft.filter(pl.col("split") == "test")["extraction_id"].unique()
    return extractions.filter(pl.col("extraction_id").is_in(test_ids.implode())).sort("extraction_id")


class InferPersonaConfig(ExtractConfig):
    """The encoder settings of the test-time inference (the declared protocol needs no encoder: the
    benchmark applies the declared profiles to these rows, evaluate.run.protocol_rows)."""


@dg.asset(partitions_def=backbone_partitions, group_name="benchmark", pool="gpu",
          ins={"sft_dataset": dg.AssetIn(partition_mapping=by_backbone),
               "persona_extractions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
               "declared_profiles": dg.AssetIn()},
          check_specs=TEST_PERSONA_CHECKS.specs, automation_condition=after_upstream(),
          metadata=schema_metadata(schemas.TestPersona),
          description="Every test example with the persona a deployment could give it: z inferred by the "
                      "encoder from the context alone (never from the target reply x). The declared-profile "
                      "protocol is applied on top of it by benchmark_report.")
def test_personas(context: dg.AssetExecutionContext, config: InferPersonaConfig, encoder: EncoderResource,
                  storage: StorageResource, sft_dataset: pl.DataFrame, persona_extractions: pl.DataFrame,
                  declared_profiles: pl.DataFrame):
    from vvae_pipeline.encode.profiles import declared_dicts
    from vvae_pipeline.evaluate.deployment_persona import infer_test_personas

    test = _test_extractions(sft_dataset, persona_extractions, context.partition_key)
    engine = encoder.build_engine(storage.models_dir)
    with library_logs(context.log):  # the encoder's progress lines (assets/progress.py)
        rows, stats = infer_test_personas(test, engine, config.to_params(encoder, storage.root / "cache" / "extract"),
                                          source="context")
    declared = declared_dicts(declared_profiles)
    n_declared = int(rows["agent_id"].is_in(list(declared)).sum()) if declared else 0
    context.log.info(f"test-time z for {rows.height} test examples ({stats['n_no_agent_turn']} with no agent turn; "
                     f"{n_declared} of an agent with a declared profile, scored under both protocols)")
    yield dg.Output(rows, metadata={**table_metadata(schemas.TestPersona, rows, storage, "test_personas",
                                                     context.partition_key),
                                    "no_agent_turn": stats["n_no_agent_turn"],
                                    "of_declared_agents": n_declared,
                                    "observed_share": dg.MetadataValue.json(stats["observed_share"])})
    yield from TEST_PERSONA_CHECKS.results(rows)


def _previous_summary(context: dg.AssetExecutionContext) -> dict | None:
    recs = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=REPORT, asset_partitions=[context.partition_key]), limit=1).records
    meta = recs[0].asset_materialization.metadata if recs and recs[0].asset_materialization else {}
    path = meta.get("summary_json")
    try:
        return json.loads(Path(path.value).read_text()) if path is not None else None
    except (OSError, ValueError):
        return None


@dg.asset(partitions_def=backbone_partitions, group_name="benchmark", pool="gpu",
          ins={"sft_dataset": dg.AssetIn(partition_mapping=by_backbone), "test_personas": dg.AssetIn(),
               "declared_profiles": dg.AssetIn()},
          deps=[dg.AssetDep("lora_checkpoint", partition_mapping=by_backbone)],
          automation_condition=after_upstream(),
          description="CP/EC/HM with 95% intervals for every variant and baseline against the human replies, "
                      "paired verdicts, the paper's claims, week over week, DialogBench: Markdown + HTML.")
def benchmark_report(context: dg.AssetExecutionContext, config: ReportConfig, storage: StorageResource,
                     generator: GeneratorResource, prompting: PromptingResource, mlflow: MLflowResource,
                     sft_dataset: pl.DataFrame, test_personas: pl.DataFrame,
                     declared_profiles: pl.DataFrame) -> dg.MaterializeResult:
    from vvae_pipeline.encode.profiles import declared_dicts
    from vvae_pipeline.evaluate import dialogbench_corpora, report, run
    from vvae_pipeline.llm.models import resolve_model_path
    from vvae_pipeline.train.artifacts import read_trained

    backbone, (params, db_params) = context.partition_key, config.to_params()
    sft = sft_dataset.filter(pl.col("backbone") == backbone)
    trained_dir, out_dir = storage.root / "artifacts" / "lora_checkpoint" / backbone, storage.artifact_dir(
        "benchmark_report", backbone)
    adapters, train_stats = read_trained(trained_dir, VARIANT_KEYS)
    # The registry's champion SP+FT adapter, when it is not this week's, is scored alongside it.
    tracker, run_ids = mlflow.tracker(storage.root, context.log), read_run_ids(trained_dir, VARIANT_KEYS)
    champion, registry = tracker.champion_for_benchmark(backbone, run_ids.get(SP_FT), out_dir / "champion_adapter")
    items, note = dialogbench_corpora.load_items(storage.corpora_dir, db_params)
    model_path = resolve_model_path(backbone, storage.models_dir)
    inputs = run.BenchmarkInputs(backbone, model_path, sft, test_personas, adapters, train_stats, items, note,
                                 previous=_previous_summary(context), deployment={
                                     "generator": f"{generator.engine} {generator.device} {generator.dtype}",
                                     "prompting_baselines_on": prompting.label(), "registry": registry},
                                 champion_adapter=champion, declared=declared_dicts(declared_profiles),
                                 encoder_quality=report.load_encoder_quality(
                                     storage.root / "artifacts" / "persona_extractions"),
                                 persona_structure=report.load_persona_structure(
                                     storage.artifact_dir(PRIORS) / STRUCTURE_FILE))
    with library_logs(context.log):  # generation and DialogBench progress lines (assets/progress.py)
        res = run.run_benchmark(inputs, generator.build(model_path), params, db_params,
                                prompting=prompting.generate_fn(params.decoding.max_new_tokens),
                                scorer=(lambda: generator.scorer(model_path)) if generator.engine == "vllm" else None)
    out = report.write_report(res, out_dir)
    context.log.info(out.headline)
    tracker.log_benchmark(out.summary, run_ids)
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(out.markdown_inline), "headline": out.headline,
        "test_prompts": int(res.summary.filter(pl.col("system") == "human")["n"][0]),
        "claims": dg.MetadataValue.json(res.claims), **{k: dg.MetadataValue.path(v) for k, v in out.paths.items()},
        **report.headline_numbers(res), **{f"seconds_{k}": round(v, 1) for k, v in res.seconds.items()}})
