"""Tiny hand-made SFT frames (schemas.SFTExample) for the benchmark tests.

Two test agents (en Luna, zh 小雨) with three examples each and one train agent, in the FT, P+FT and
SP+FT variants. Each reply shows some of its agent's persona, so the human rates are known by hand:
Luna's replies: CP in 2 of 3, EC in 1 of 3, HM in 1 of 3; 小雨's: CP 1 of 3, EC 2 of 3, HM 0 of 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.schemas import SFTExample, validate

LUNA = {"catchphrase": "no worries at all", "emoji": "🌙", "hobby": "stargazing", "tone": "gentle"}
XIAOYU = {"catchphrase": "真的假的", "emoji": "😂", "hobby": "打羽毛球", "tone": "playful"}
MAX = {"catchphrase": "let's gooo", "emoji": "🔥", "hobby": "rock climbing", "tone": "enthusiastic"}

# (agent, persona, language, split, user turn, human reply, dimensions the reply shows)
EXAMPLES = [
    ("agent_luna", LUNA, "en", "test", "Sorry I kept you waiting.", "No worries at all, I was stargazing 🌙",
     ("catchphrase", "emoji", "hobby", "tone")),
    ("agent_luna", LUNA, "en", "test", "I failed my exam.", "No worries at all. You'll pass next time.",
     ("catchphrase", "tone")),
    ("agent_luna", LUNA, "en", "test", "What are you doing?", "Just reading a book.", ("tone",)),
    ("agent_xiaoyu", XIAOYU, "zh", "test", "我中彩票了！", "真的假的😂", ("catchphrase", "emoji")),
    ("agent_xiaoyu", XIAOYU, "zh", "test", "今天好累", "辛苦啦😂抱抱", ("emoji",)),
    ("agent_xiaoyu", XIAOYU, "zh", "test", "你在干嘛", "在想你呀", ()),
    ("agent_max", MAX, "en", "train", "I got the job!", "let's gooo 🔥", ("catchphrase", "emoji")),
    ("agent_max", MAX, "en", "validation", "Any plans?", "rock climbing, obviously", ("hobby",)),
]


def sft_frame(variants=("ft", "p_ft", "sp_ft"), backbone: str = "smollm2-135m") -> pl.DataFrame:
    rows = []
    for variant in variants:
        for i, (agent, persona, lang, split, user, reply, shown) in enumerate(EXAMPLES):
            dims = {d: (persona.get(d) if d in shown else None) for d in DIMENSION_NAMES}
            origins = {d: ("observed" if dims[d] else "none") for d in DIMENSION_NAMES}
            if variant == "sp_ft" and dims["hobby"] is None:
                dims["hobby"], origins["hobby"] = "reading", "sampled"  # a sampled value is not a reference
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
            if variant != "ft":
                persona_text = "; ".join(f"{d}: {v}" for d, v in dims.items() if v)
                messages.insert(0, {"role": "system", "content": f"Persona: {persona_text}"})
            rows.append({
                "batch_id": "b1", "source_file": "demo.jsonl", "source_line": i + 1,
                "example_id": f"{variant}-{i}", "extraction_id": f"x{i}", "session_id": f"s{i}",
                "agent_id": agent, "backbone": backbone, "variant": variant, "split": split, "language": lang,
                "messages": messages, "reply": reply, **dims, "origins": json.dumps(origins),
            })
    overrides = {
        "messages": pl.List(pl.Struct({"role": pl.Utf8, "content": pl.Utf8})),
        **dict.fromkeys(DIMENSION_NAMES, pl.Utf8),
    }
    df = pl.DataFrame(rows, schema_overrides=overrides)
    df = df.select(list(SFTExample.to_schema().columns))
    report = validate(df, SFTExample)
    assert report.passed, report.summary()
    return df


HUMAN_RATES = {"cp": 3 / 6, "ec": 3 / 6, "hm": 1 / 6}


def make_adapter(base_path: str, out: Path, seed: int) -> None:
    """A real PEFT LoRA adapter on SmolLM2 with its (zero-initialised) B matrices perturbed."""
    import torch
    from peft import LoraConfig, get_peft_model

    from vvae_pipeline.llm.models import load_causal_lm

    torch.manual_seed(seed)  # lora_A's init draws from the global generator: seed it too
    model = get_peft_model(load_causal_lm(base_path),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)  # large enough to change greedy text
    model.save_pretrained(out)


def make_test_rows(frame: pl.DataFrame | None = None, z: dict[str, dict] | None = None) -> pl.DataFrame:
    """The test split as ``schemas.TestPersona`` rows: real context and reply, persona columns = the
    test-time z (``z[extraction_id]``, default all null)."""
    from vvae_pipeline.schemas import TestPersona

    frame = sft_frame() if frame is None else frame
    test = frame.filter((pl.col("variant") == frame["variant"][0]) & (pl.col("split") == "test"))
    rows = []
    for r in test.iter_rows(named=True):
        user = next(m["content"] for m in r["messages"] if m["role"] == "user")
        zz = (z or {}).get(r["extraction_id"], {})
        rows.append({
            "batch_id": r["batch_id"], "source_file": r["source_file"], "source_line": r["source_line"],
            **{d: zz.get(d) for d in DIMENSION_NAMES},
            "extraction_id": r["extraction_id"], "session_id": r["session_id"], "agent_id": r["agent_id"],
            "user_id": "u1", "language": r["language"], "turn_index": 3,
            "context": [{"role": "user", "text": "hey"}, {"role": "agent", "text": f"hi there ({r['session_id']})"},
                        {"role": "user", "text": user}],
            "reply": r["reply"], "x_source": "annotation", "status": "ok", "null_reasons": "{}",
            "raw_output": None, "engine": "fake", "model": "fake", "prompt_version": "v",
        })
    schema = {c: col.dtype.type for c, col in TestPersona.to_schema().columns.items()}
    df = pl.DataFrame(rows, schema=schema)
    report = validate(df, TestPersona)
    assert report.passed, report.summary()
    return df
