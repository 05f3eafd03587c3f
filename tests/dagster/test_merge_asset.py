"""merged_model materialized with Dagster on a tiny real PEFT adapter over the real SmolLM2: the folder
loads with plain transformers (no peft, no adapter_config.json) and computes what base + adapter computes."""

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.merge import merged_model
from resources.storage import StorageResource
from resources.trainer import TrainerResource
from tests.support.benchmark_frames import make_adapter

PARTITION = "smollm2-135m|sp_ft"
PROMPT = [{"role": "user", "content": "Sorry I am late, the bus broke down again."}]


@pytest.fixture
def storage(tmp_path, models_dir) -> StorageResource:
    return StorageResource(home=str(tmp_path / "vvae"), models=str(models_dir))


def _materialize(storage):
    return dg.materialize([merged_model], partition_key=PARTITION, raise_on_error=False,
                          resources={"storage": storage, "trainer": TrainerResource(device="cpu")})


def _logits(model, tok):
    import torch

    ids = tok.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        return model(**ids).logits[0]


@pytest.mark.slow
def test_merged_folder_loads_without_peft_and_matches_base_plus_adapter(storage, smollm2_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from vvae_pipeline.llm.models import load_causal_lm, load_tokenizer

    adapter = storage.artifact_dir("lora_checkpoint", PARTITION) / "adapter"
    make_adapter(smollm2_path, adapter, seed=3)
    result = _materialize(storage)
    assert result.success
    meta = result.asset_materializations_for_node("merged_model")[0].metadata
    out = Path(meta["path"].value)
    assert out == storage.artifact_dir("merged_model", PARTITION)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "merge_info.json"} <= names, names
    assert not any(n.startswith("adapter_") for n in names)  # a plain model folder, not an adapter
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    assert json.loads((out / "merge_info.json").read_text())["lora_r"] == 4
    print(f"merge took {meta['seconds'].value} s, {meta['bytes'].value / 1e6:.0f} MB")

    tok = load_tokenizer(str(out))
    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    assert not hasattr(merged, "peft_config")
    peft = PeftModel.from_pretrained(load_causal_lm(smollm2_path), str(adapter)).eval()
    base = load_causal_lm(smollm2_path)
    got, want, plain = _logits(merged, tok), _logits(peft, tok), _logits(base, tok)
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()
    assert (got - plain).abs().max() > 1e-2  # the adapter changed the model: this check can fail
    assert got[-1].argmax() == want[-1].argmax()


def test_missing_adapter_is_a_clear_error(storage):
    result = _materialize(storage)
    assert not result.success
    assert "lora_checkpoint smollm2-135m|sp_ft is not materialized" in str(result.get_step_failure_events()[0]
                                                                           .event_specific_data.error)
