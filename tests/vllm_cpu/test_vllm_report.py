"""benchmark_report materialized through Dagster on the gpu profile's path, vLLM, here on vLLM's
CPU build (run from .venv-vllm): one engine for the base model and both adapters (LoRARequest,
max_lora_rank from the adapters), compared with the same asset on the transformers path.

    .venv-vllm/bin/python -m pytest tests/vllm_cpu/test_vllm_report.py
"""

from __future__ import annotations

import os

import pytest

try:
    from vllm import LLM  # noqa: F401
except ImportError as exc:
    pytest.skip(f"vllm is not importable here ({exc}): create .venv-vllm with scripts/setup_vllm.sh",
                allow_module_level=True)

import dagster as dg  # noqa: E402
import polars as pl  # noqa: E402

from assets.report import ReportConfig, benchmark_report  # noqa: E402
from resources.llm import GeneratorResource, PromptingResource  # noqa: E402
from resources.storage import ParquetIOManager, StorageResource  # noqa: E402
from resources.tracking import MLflowResource  # noqa: E402
from tests.support.report_inputs import BACKBONE, STUBS, TRAINED, write_report_inputs  # noqa: E402

pytestmark = pytest.mark.vllm

GENERATED = ("base", *TRAINED, "2-shot")


def _materialize(storage: StorageResource, generator: GeneratorResource) -> tuple[dict, pl.DataFrame]:
    config = ReportConfig(max_test_prompts=6, max_new_tokens=16, shots=[2], dialogbench_items_per_task=1,
                          dialogbench_tasks=["ic_en"], dialogbench_systems=["base", "sp_ft"], bootstrap_samples=200)
    result = dg.materialize(
        [*STUBS, benchmark_report], selection=[benchmark_report], partition_key=BACKBONE,
        resources={"storage": storage, "io_manager": ParquetIOManager(home=storage.home),
                   "generator": generator, "prompting": PromptingResource(),
                   "mlflow": MLflowResource(enabled=False)},  # .venv-vllm carries no mlflow
        run_config=dg.RunConfig({"benchmark_report": config}), instance=dg.DagsterInstance.ephemeral())
    assert result.success
    meta = result.asset_materializations_for_node("benchmark_report")[0].metadata
    samples = pl.read_parquet(storage.artifact_dir("benchmark_report", BACKBONE) / "samples.parquet")
    return meta, samples


def _outputs(samples: pl.DataFrame) -> dict[str, list[str]]:
    return {s: samples.filter(pl.col("system") == s).sort("extraction_id")["output"].to_list() for s in GENERATED}


def test_report_on_vllm_matches_transformers_greedy(tmp_path, smollm2_path, models_dir, shared_data):
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    storage = StorageResource(home=str(tmp_path), models=str(models_dir), corpora=str(shared_data))
    write_report_inputs(storage, smollm2_path)

    hf_meta, hf = _materialize(storage, GeneratorResource(torch_threads=2))
    vl_meta, vl = _materialize(storage, GeneratorResource(engine="vllm", vllm_enforce_eager=True,
                                                          vllm_max_model_len=1024))
    assert vl_meta["seconds_generation"].value > 0
    hf_out, vl_out = _outputs(hf), _outputs(vl)
    for system in GENERATED:
        assert len(vl_out[system]) == 6 and all(isinstance(t, str) for t in vl_out[system])
    # The adapters reached vLLM: each trained system says something other than the base model.
    assert all(vl_out[s] != vl_out["base"] for s in TRAINED)
    pairs = [(s, h, v) for s in GENERATED for h, v in zip(hf_out[s], vl_out[s], strict=True)]
    same = [h == v for _, h, v in pairs]
    print(f"vLLM = transformers greedy on {sum(same)}/{len(same)} replies")
    for s, h, v in pairs:
        if h != v:
            print(f"  {s}: HF {h!r}\n  {'':{len(s)}}  vLLM {v!r}")
    # Greedy decoding in fp32 on the same weights and the same fitted prompts: the same replies. (Before
    # HFGenerator dropped a trailing partial character, 3 of 24 differed by a final U+FFFD only.)
    assert all(same)
    # Same references, same detectors: the human rates do not depend on the engine.
    assert hf_meta["human/cp"].value == vl_meta["human/cp"].value
