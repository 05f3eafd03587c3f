"""HF generation on SmolLM2: adapters swapped on one base model give the same replies as a
freshly loaded PeftModel; the base (adapters disabled) is untouched; greedy output is stable."""


import pytest

from tests.support.benchmark_frames import make_adapter
from vvae_pipeline.llm.generation import DecodingParams, HFGenerator

PROMPTS = [
    [{"role": "system", "content": "You are Luna. Catchphrase: no worries at all."},
     {"role": "user", "content": "Sorry I am late, the bus broke down on the way to the station."}],
    [{"role": "user", "content": "你好，今天过得怎么样？"}],
]


@pytest.mark.slow
def test_adapter_swap_matches_fresh_model(tmp_path, smollm2_path):
    for i in range(2):
        make_adapter(smollm2_path, tmp_path / f"a{i}", seed=i)
    params = DecodingParams(max_new_tokens=8, batch_size=2)
    gen = HFGenerator(smollm2_path)
    base_before = gen.generate(PROMPTS, params)
    gen.load_adapter("a0", tmp_path / "a0")
    gen.load_adapter("a1", tmp_path / "a1")
    swapped = {name: gen.generate(PROMPTS, params, adapter=name) for name in ("a1", "a0")}
    assert gen.generate(PROMPTS, params) == base_before  # disable_adapter gives the base back
    assert swapped["a0"] != swapped["a1"] != base_before
    fresh = HFGenerator(smollm2_path)
    fresh.load_adapter("a1", tmp_path / "a1")
    assert fresh.generate(PROMPTS, params, adapter="a1") == swapped["a1"]
    # Batching with left padding does not change a greedy reply.
    assert gen.generate(PROMPTS[:1], params, adapter="a0") == swapped["a0"][:1]
    with pytest.raises(KeyError, match="not loaded"):
        gen.generate(PROMPTS, params, adapter="nope")
    with pytest.raises(FileNotFoundError, match="not a PEFT adapter"):
        gen.load_adapter("x", tmp_path)
