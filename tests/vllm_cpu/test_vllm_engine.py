"""VLLMEngine for real: vLLM's CPU build on the converted SmolLM2 (run from .venv-vllm).

    scripts/setup_vllm.sh && .venv-vllm/bin/python -m pytest tests/vllm_cpu

One engine start (~35-45 s with enforce_eager on 2 cores) serves every test in this module.
"""

from __future__ import annotations

import json
import os

import pytest

try:
    from vllm import LLM  # noqa: F401
except ImportError as exc:
    pytest.skip(f"vllm is not importable here ({exc}): create .venv-vllm with scripts/setup_vllm.sh and "
                "run `.venv-vllm/bin/python -m pytest tests/vllm_cpu`", allow_module_level=True)
jsonschema = pytest.importorskip("jsonschema")

from vvae_pipeline import latent  # noqa: E402
from vvae_pipeline.llm.engines import VLLMEngine  # noqa: E402

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def engine(smollm2_path):
    # CPU settings measured on 2-core CI machines: 2 GiB KV cache, threads bound to both cores (1.7x over the
    # default binding), fp32 (bf16 ~5x slower), eager (34 s start vs 120-140 s).
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
    # Engine core in this process: pytest's __main__ cannot be re-imported by a spawned worker.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    return VLLMEngine(smollm2_path, "smollm2-135m", dtype="float32", max_model_len=2048, enforce_eager=True)


PROMPTS = [
    [{"role": "system", "content": "Describe the agent's persona as JSON. Use null when not shown."},
     {"role": "user", "content": "agent: Hey sunshine, no worries at all 🌙\nagent: I spent the evening stargazing."}],
    [{"role": "user", "content": "agent: 哼，笨蛋，跟我说说工作的事吧。"}],
]
SCHEMAS = [
    latent.json_schema({"catchphrase": ["no worries at all"], "emoji": ["🌙"], "nickname": ["sunshine"],
                        "hobby": ["stargazing"], "topic": []}),
    latent.json_schema({"catchphrase": ["哼"], "nickname": ["笨蛋"], "topic": ["工作"]}),
]


def test_structured_outputs_are_schema_valid(engine):
    results = engine.generate_json(PROMPTS, SCHEMAS, max_tokens=128)
    for res, schema in zip(results, SCHEMAS):
        assert res.finish_reason == "stop", res.text
        obj = json.loads(res.text)
        jsonschema.validate(obj, schema)
        assert list(obj) == list(latent.DIMENSION_NAMES)
    assert json.loads(results[0].text)["topic"] is None  # empty candidate list: only null allowed


def test_budget_overrun_is_retried_with_a_larger_budget(engine):
    [res] = engine.generate_json(PROMPTS[:1], SCHEMAS[:1], max_tokens=6)
    assert res.retried  # 6 tokens cannot hold nine keys: retried at 12, which still cannot
    assert res.finish_reason == "length"


def test_extract_with_vllm_gives_contract_rows(engine, tmp_path):
    import polars as pl

    from vvae_pipeline.encode.extract import ExtractParams, build_items, extract
    from vvae_pipeline.schemas import PersonaExtraction, validate

    turns = [{"role": "user", "text": "work was awful", "ts": None},
             {"role": "agent", "text": "Hey sunshine, no worries at all 🌙", "ts": None}]
    sessions = pl.DataFrame({
        "batch_id": ["b1"], "source_file": ["f.jsonl"], "source_line": [1], "session_id": ["s1"],
        "agent_id": ["agent_luna"], "user_id": ["u1"], "language": ["en"], "turns": [turns],
        "annotations": [[{"turn_index": 1, "rewritten_text": "no worries at all, sunshine 🌙", "annotator_id": "a"}]],
        "x_source": ["annotation"], "pii_found": [0],
    })
    items, _ = build_items(sessions)
    df, stats = extract(items, engine, ExtractParams(cache_dir=str(tmp_path)))
    assert validate(df, PersonaExtraction).passed
    assert df["engine"].to_list() == ["vllm"] and stats["status"]["failed"] == 0
    for d in ("catchphrase", "emoji", "nickname"):
        v = df[d][0]
        assert v is None or v in "hey sunshine, no worries at all 🌙 no worries at all, sunshine 🌙"
