"""benchmark_report: generate on the test split with every adapter of a backbone and write the report."""


import contextlib
import json
import time
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from assets.partitions import backbone_partitions, by_backbone
from resources.llm import PromptingResource
from resources.storage import StorageResource
from vvae_pipeline.backbones import BACKBONE_KEYS
from vvae_pipeline.evaluate import benchmark, dialogbench, report
from vvae_pipeline.llm.generation import DecodingParams
from vvae_pipeline.llm.models import resolve_model_path
from vvae_pipeline.variants import VARIANT_KEYS

REPO = Path(__file__).resolve().parents[1]

# The main job's demo size on 2 CPU cores (defaults below are production values). Measured on
# this shared machine (load average 5-8 on 2 cores): 10 systems x 15 prompts x 40 tokens with
# 384-token prompts took 466 s and DialogBench 12 items x 3 tasks x 4 rotations on 2 systems 232 s;
# with this config, 7 systems took 203 s and DialogBench (8 items) 62 s. An idle machine is ~3-4x faster.
DEMO_REPORT_CONFIG = {
    "max_test_prompts": 16,
    "max_new_tokens": 40,
    "max_prompt_tokens": 256,
    "batch_size": 16,
    "dialogbench_items_per_task": 8,
    "dialogbench_systems": ["base", "sp_ft"],
}


class ReportConfig(dg.Config):
    max_test_prompts: int = Field(1000, description="test examples per system (seeded, round-robin over agents)")
    max_new_tokens: int = Field(128, description="reply budget per generated reply")
    batch_size: int = Field(32, description="prompts per generate() call (transformers engine)")
    do_sample: bool = Field(False, description="greedy by default, so reports are reproducible")
    temperature: float = Field(1.0, description="only used when do_sample")
    top_p: float = Field(1.0, description="only used when do_sample")
    repetition_penalty: float = Field(1.0, description="1.0 = off")
    max_prompt_tokens: int = Field(384, description="oldest history turns dropped beyond this")
    shots: list[int] = Field([0, 2, 5], description="k of the k-shot persona-prompting baselines")
    include_base: bool = Field(True, description="also generate with the untuned base model")
    engine: str = Field("transformers", description="'transformers' (CPU/GPU, adapters swapped) or 'vllm'")
    vllm_dtype: str = Field("auto", description="vLLM dtype; 'float32' on CPU (bf16 is ~5x slower there)")
    vllm_enforce_eager: bool = Field(False, description="True on CPU: 34 s start instead of 120-140 s")
    vllm_max_model_len: int = Field(4096, description="vLLM context length (KV cache sizing)")
    vllm_max_lora_rank: int = Field(64, description="at least the largest adapter rank")
    dialogbench_dir: str = Field("../shared/data", description="corpora for the DialogBench-format "
                                    "converters; relative paths resolve against the repository root")
    dialogbench_tasks: list[str] = Field(["ed_en", "ic_en", "ed_zh"], description="converters to run")
    dialogbench_items_per_task: int = Field(200, description="items per task (each asked once per rotation)")
    dialogbench_systems: list[str] = Field(["base", *VARIANT_KEYS], description="'base' and/or variant keys "
                                           "(variants without an adapter are left out)")
    seed: int = Field(0, description="example choice, shots, distractors and sampling")
    torch_threads: int = Field(1, description="CPU threads; 1 beats 2 on a busy 2-core machine")

    def to_params(self) -> benchmark.BenchmarkParams:
        decoding = DecodingParams(self.max_new_tokens, self.do_sample, self.temperature, self.top_p,
                                  self.repetition_penalty, self.batch_size, self.max_prompt_tokens, self.seed)
        return benchmark.BenchmarkParams(self.max_test_prompts, tuple(self.shots), self.include_base, decoding, self.seed)


def adapter_dir(storage: StorageResource, backbone: str, variant: str) -> Path:
    return storage.artifact_dir("lora_checkpoint", f"{backbone}|{variant}")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _dialogbench_items(config: ReportConfig) -> tuple[list[dict], str]:
    root = Path(config.dialogbench_dir)
    root = root if root.is_absolute() else (REPO / root).resolve()
    if not root.is_dir():
        return [], f"corpora folder {root} not found (set dialogbench_dir)"
    unknown = [t for t in config.dialogbench_tasks if t not in dialogbench.CONVERTERS]
    if unknown:
        raise ValueError(f"unknown dialogbench_tasks {unknown}; known: {sorted(dialogbench.CONVERTERS)}")
    params = dialogbench.DialogBenchParams(items_per_task=config.dialogbench_items_per_task, seed=config.seed)
    items, missing = [], []
    for task in config.dialogbench_tasks:
        try:
            items += dialogbench.CONVERTERS[task](root, params)
        except FileNotFoundError as exc:
            missing.append(f"{task}: {Path(exc.filename or '').name or exc}")
    note = f"missing corpus files ({'; '.join(missing)})" if missing else ""
    return items, note if not items else ""


@dg.asset(
    partitions_def=backbone_partitions,
    group_name="benchmark",
    ins={"sft_dataset": dg.AssetIn(partition_mapping=by_backbone)},
    deps=[dg.AssetDep("lora_checkpoint", partition_mapping=by_backbone)],
    pool="gpu",  # generation with every adapter holds the GPU: one GPU step at a time by default
    description="CP/EC/HM vs human targets for every variant and baseline, DialogBench-format accuracy, "
                "loss curves, ablation matrix, encoder quality: Markdown + HTML under artifacts.",
)
def benchmark_report(context: dg.AssetExecutionContext, config: ReportConfig, storage: StorageResource,
                     prompting: PromptingResource, sft_dataset: pl.DataFrame) -> dg.MaterializeResult:
    import torch

    torch.set_num_threads(config.torch_threads)
    backbone = context.partition_key
    params = config.to_params()
    sft = sft_dataset.filter(pl.col("backbone") == backbone) if "backbone" in sft_dataset.columns else sft_dataset
    dirs = {v: adapter_dir(storage, backbone, v) for v in VARIANT_KEYS}
    trained = {v: (d / "adapter" / "adapter_config.json").exists() for v, d in dirs.items()}
    metrics = {v: m for v, d in dirs.items() if trained[v] and (m := _read_json(d / "metrics.json"))}
    plan = benchmark.plan(sft, trained, params)
    context.log.info(f"{len(plan.jobs)} systems x {plan.examples.height} test prompts; not trained: {plan.not_trained}")

    model_path = resolve_model_path(backbone, storage.models_dir)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    gen = None
    # k-shot persona prompting on an OpenAI-compatible endpoint when one is configured, else locally.
    remote = prompting.generate_fn(params.decoding.max_new_tokens)
    local_jobs = [j for j in plan.jobs if remote is None or j.kind != "prompting"]
    if config.engine == "vllm":
        from vvae_pipeline.llm.generation import vllm_generate

        jobs = {j.system: (str(dirs[j.adapter] / "adapter") if j.adapter else None, j.prompts) for j in local_jobs}
        outputs = vllm_generate(model_path, jobs, params.decoding, max_lora_rank=config.vllm_max_lora_rank,
                                engine_kwargs={"dtype": config.vllm_dtype, "enforce_eager": config.vllm_enforce_eager,
                                               "max_model_len": config.vllm_max_model_len})
    elif config.engine == "transformers":
        from vvae_pipeline.llm.generation import HFGenerator

        gen = HFGenerator(model_path)
        for j in plan.jobs:
            if j.adapter:
                gen.load_adapter(j.adapter, dirs[j.adapter] / "adapter")
        outputs = benchmark.generate_jobs(local_jobs, lambda adapter: gen.as_fn(params.decoding, adapter))
    else:
        raise ValueError(f"engine must be 'transformers' or 'vllm', got {config.engine!r}")
    if remote is not None:
        outputs.update({j.system: remote(j.prompts) for j in plan.jobs if j.kind == "prompting"})
    timings["generation"] = time.perf_counter() - t0
    summary, samples, human = benchmark.score(plan, outputs)

    t0 = time.perf_counter()
    items, db_note = _dialogbench_items(config)
    db_results: dict[str, dict] = {}
    if items:
        if gen is None:
            from vvae_pipeline.llm.generation import HFGenerator

            gen = HFGenerator(model_path)
        for system in config.dialogbench_systems:
            if system != "base" and not trained.get(system):
                continue
            if system != "base" and system not in gen.adapters:
                gen.load_adapter(system, dirs[system] / "adapter")
            if system == "base":
                ctx = gen.model.disable_adapter() if gen.adapters else contextlib.nullcontext()
            else:
                gen.model.set_adapter(system)
                ctx = contextlib.nullcontext()
            with ctx:
                db_results[system] = dialogbench.evaluate(items, dialogbench.hf_letter_scorer(gen.model, gen.tokenizer))
        if not db_results:
            db_note = f"none of dialogbench_systems {config.dialogbench_systems} is available"
    timings["dialogbench"] = time.perf_counter() - t0

    quality = {p.parent.name: q for p in sorted((storage.root / "artifacts" / "persona_extractions").glob("*/quality.json"))
               if (q := _read_json(p)) is not None}
    others = {}
    for bb in BACKBONE_KEYS:
        if bb != backbone and (s := _read_json(storage.artifact_dir("benchmark_report", bb) / "summary.json")):
            others[bb] = s.get("systems", [])
    settings = {"backbone": backbone, "base_model": model_path, "engine": config.engine,
                "prompting_baselines_on": prompting.label(),
                "decoding": params.decoding.as_dict(), "max_test_prompts": params.max_test_prompts,
                "shots": list(params.shots), "dialogbench_items_per_task": config.dialogbench_items_per_task,
                "seed": config.seed, "seconds": {k: round(v, 1) for k, v in timings.items()}}
    out = report.write_report(
        report.ReportInputs(backbone, summary, human, metrics, quality, db_results, db_note, settings, samples, others),
        storage.artifact_dir("benchmark_report", backbone),
    )
    context.log.info(out["closest"])
    metadata: dict = {"report": dg.MetadataValue.md(out["markdown_inline"]), "closest": out["closest"],
                      **{k: dg.MetadataValue.path(v) for k, v in out["paths"].items()},
                      "test_prompts": plan.examples.height, "not_trained": ", ".join(plan.not_trained) or "none",
                      "seconds_generation": round(timings["generation"], 1),
                      "seconds_dialogbench": round(timings["dialogbench"], 1)}
    for r in summary.filter(pl.col("status") == "ok").iter_rows(named=True):
        for d in ("cp", "ec", "hm", "distance"):
            metadata[f"{r['system']}/{d}"] = float(r[d])
    for system, res in db_results.items():
        for task, s in res["tasks"].items():
            metadata[f"dialogbench/{system}/{task}"] = float(s["accuracy"])
    return dg.MaterializeResult(metadata=metadata)
