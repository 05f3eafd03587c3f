"""A reply with nothing before it (the agent opens the session; the corpus adapters annotate such
turns) gets a defined prompt, the opening user turn, in every variant, at training and at test time,
and trains on exactly x plus its end-of-turn token."""

from __future__ import annotations

import functools

import polars as pl
import pytest

from tests.support.chat_templates import with_template
from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.sft.build import SFTParams, build_sft
from vvae_pipeline.sft.persona_prompt import OPENING_TURN
from vvae_pipeline.train.masking import (
    IGNORE,
    MaskingError,
    tokenize_example,
    tokenize_examples,
)

# e0 and e1 open their session (no context); e2 has one.
ROWS = [
    {"agent_id": "a0", "context": [], "reply": "hi there, you know"},
    {"agent_id": "a1", "context": [], "reply": "你好呀", "language": "zh", "catchphrase": "哈哈"},
    {"agent_id": "a2", "hobby": "hiking", "reply": "sure"},
]
EOT = {"smollm2": "<|im_end|>", "qwen": "<|im_end|>", "llama3": "<|eot_id|>"}


def _sft(variant: str) -> pl.DataFrame:
    return build_sft(extraction_frame(ROWS), "smollm2-135m", variant, SFTParams(seed=0))[0]


@functools.cache
def _tokenizer(path: str, name: str):
    from vvae_pipeline.llm.models import load_tokenizer

    return with_template(load_tokenizer(path), name)


@pytest.mark.parametrize("variant", ["ft", "p_ft", "sp_ft"])
def test_first_turn_rows_get_the_opening_user_turn(variant):
    df = _sft(variant)
    by_id = {r["extraction_id"]: r["messages"] for r in df.iter_rows(named=True)}
    for eid, lang in (("e0", "en"), ("e1", "zh")):
        msgs = [m for m in by_id[eid] if m["role"] != "system"]
        assert msgs == [{"role": "user", "content": OPENING_TURN[lang]},
                        {"role": "assistant", "content": dict(zip(df["extraction_id"], df["reply"]))[eid]}]
    # A row with history gets no opening turn.
    assert OPENING_TURN["en"] not in [m["content"] for m in by_id["e2"]]
    if variant == "ft":  # no persona: the lone assistant message of before is now a 2-turn chat
        assert len(by_id["e0"]) == 2


def test_test_time_prompt_of_a_first_turn_is_the_training_prompt():
    from vvae_pipeline.evaluate.deployment_persona import variant_prompts

    sft = _sft("ft")
    test = extraction_frame(ROWS)
    prompts = variant_prompts(test, build_priors(test)[0], "ft", 0)
    train = {r["extraction_id"]: r["messages"][:-1] for r in sft.iter_rows(named=True)}
    assert prompts[0] == train["e0"] == [{"role": "user", "content": OPENING_TURN["en"]}]
    assert prompts[1] == train["e1"]


@pytest.mark.parametrize("template", sorted(EOT))
@pytest.mark.parametrize("variant", ["ft", "p_ft"])
def test_first_turn_row_renders_and_masks_exactly_x(smollm2_path, template, variant):
    tok = _tokenizer(smollm2_path, template)
    row = _sft(variant).filter(pl.col("extraction_id") == "e0").row(0, named=True)
    feat = tokenize_example(row["messages"], tok, max_length=256)
    target = [i for i, lab in zip(feat["input_ids"], feat["labels"], strict=True) if lab != IGNORE]
    assert tok.decode(target) == row["reply"] + EOT[template]
    # Every label before x is masked, and the prompt the loss conditions on holds the opening turn.
    first = feat["labels"].index(target[0])
    assert all(lab == IGNORE for lab in feat["labels"][:first])
    assert OPENING_TURN["en"] in tok.decode(feat["input_ids"][:first])


def test_a_lone_reply_is_a_counted_masking_error_not_a_crash(smollm2_path):
    tok = _tokenizer(smollm2_path, "smollm2")
    lone = [{"role": "assistant", "content": "hi"}]
    with pytest.raises(MaskingError, match="nothing before"):
        tokenize_example(lone, tok, 256)
    feats, stats = tokenize_examples([lone, [{"role": "user", "content": "yo"}, *lone]], tok, 256)
    assert len(feats) == 1 and stats["invalid_reasons"] == {"nothing before the target reply x": 1}
