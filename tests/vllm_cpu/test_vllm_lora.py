"""generation.vllm_generate for real: one vLLM engine, the base model and a LoRA adapter through a
LoRARequest, on the converted SmolLM2 (run from .venv-vllm; one engine start, ~40-60 s on 2 cores).

    .venv-vllm/bin/python -m pytest tests/vllm_cpu/test_vllm_lora.py
"""

from __future__ import annotations

import json
import os

import pytest

try:
    from vllm import LLM  # noqa: F401
except ImportError as exc:
    pytest.skip(f"vllm is not importable here ({exc}): create .venv-vllm with scripts/setup_vllm.sh",
                allow_module_level=True)

from vvae_pipeline.llm.generation import DecodingParams, vllm_generate  # noqa: E402

pytestmark = pytest.mark.vllm


def write_lora(base_path: str, out, r: int = 8, scale: float = 0.05) -> None:
    """A PEFT-format LoRA adapter on q_proj/v_proj of every layer, written without peft
    (the vLLM venv does not carry it): adapter_config.json + adapter_model.safetensors."""
    import torch
    from safetensors.torch import save_file

    cfg = json.loads(open(os.path.join(base_path, "config.json")).read())
    hidden, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    head_dim = cfg.get("head_dim") or hidden // cfg["num_attention_heads"]
    outs = {"q_proj": cfg["num_attention_heads"] * head_dim, "v_proj": cfg["num_key_value_heads"] * head_dim}
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for i in range(layers):
        for mod, out_dim in outs.items():
            key = f"base_model.model.model.layers.{i}.self_attn.{mod}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(r, hidden, generator=g) * scale
            tensors[f"{key}.lora_B.weight"] = torch.randn(out_dim, r, generator=g) * scale
    os.makedirs(out, exist_ok=True)
    save_file(tensors, os.path.join(out, "adapter_model.safetensors"))
    json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 2 * r, "lora_dropout": 0.0,
               "target_modules": list(outs), "bias": "none", "base_model_name_or_path": base_path,
               "fan_in_fan_out": False, "modules_to_save": None}, open(os.path.join(out, "adapter_config.json"), "w"))


def test_base_and_lora_requests_in_one_engine(tmp_path, smollm2_path):
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "0-1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    adapter = str(tmp_path / "sp_ft" / "adapter")
    write_lora(smollm2_path, adapter)
    prompts = [[{"role": "user", "content": "Sorry I am late, the bus broke down."}],
               [{"role": "user", "content": "你好，今天过得怎么样？"}]]
    out = vllm_generate(
        smollm2_path,
        {"base": (None, prompts), "base_again": (None, prompts), "sp_ft": (adapter, prompts)},
        DecodingParams(max_new_tokens=8),
        max_lora_rank=8,
        engine_kwargs={"dtype": "float32", "enforce_eager": True, "max_model_len": 1024},
    )
    assert all(len(v) == 2 and all(isinstance(t, str) and t for t in v) for v in out.values())
    assert out["base"] == out["base_again"]  # greedy and seeded: reproducible
    assert out["sp_ft"] != out["base"]  # the LoRARequest reached the model
