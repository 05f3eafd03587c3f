"""Assistant-only loss masks: exactly the final reply x plus its end-of-turn token is trained,
for the default backbone's ChatML, a Qwen-style ChatML and a Llama-3 template (pad != EOS)."""

import functools
import json
from pathlib import Path

import pytest

from tests.support.chat_templates import with_template
from vvae_pipeline.train.masking import (
    IGNORE,
    MaskingError,
    end_of_turn_token,
    tokenize_example,
    tokenize_examples,
)

X = "Ha, not again 😜 let's go hiking on Sunday!"
CONVERSATION = [
    {"role": "system", "content": "Persona: catchphrase='not again'; emoji=😜; hobby=hiking"},
    {"role": "user", "content": "Are you free this weekend?"},
    # An earlier assistant turn with the same words as x: history, never trained on.
    {"role": "assistant", "content": X},
    {"role": "user", "content": "What do you want to do?"},
    {"role": "assistant", "content": X},
]
TEMPLATES = {"smollm2": "<|im_end|>", "qwen": "<|im_end|>", "llama3": "<|eot_id|>"}


@pytest.fixture(scope="module")
def base_tokenizer_path(smollm2_path: str) -> str:
    return smollm2_path


@functools.cache
def tokenizer_for(path: str, name: str):
    from vvae_pipeline.llm.models import load_tokenizer

    return with_template(load_tokenizer(path), name)


@pytest.fixture(scope="module", params=sorted(TEMPLATES))
def template(request, base_tokenizer_path):
    return request.param, tokenizer_for(base_tokenizer_path, request.param)


def labelled(feat: dict) -> list[int]:
    return [i for i, lab in enumerate(feat["labels"]) if lab != IGNORE]


def test_end_of_turn_token_found_by_rendering(template):
    name, tok = template
    assert end_of_turn_token(tok) == TEMPLATES[name]


def test_mask_covers_exactly_x_and_end_of_turn(template):
    name, tok = template
    feat = tokenize_example(CONVERSATION, tok, max_length=512)
    ids, labels = feat["input_ids"], feat["labels"]
    assert len(ids) == len(labels)
    pos = labelled(feat)
    assert pos, "mask is empty"
    # One contiguous span at the very end of the sequence.
    assert pos == list(range(len(ids) - len(pos), len(ids)))
    assert [labels[i] for i in pos] == [ids[i] for i in pos]
    eot = TEMPLATES[name]
    assert tok.decode([ids[i] for i in pos]) == X + eot
    assert [ids[i] for i in pos] == tok(X + eot, add_special_tokens=False)["input_ids"]
    # The end-of-turn token is trained exactly once (the earlier assistant turn's is context).
    eot_id = tok.convert_tokens_to_ids(eot)
    assert [labels[i] for i in pos].count(eot_id) == 1 and labels[-1] == eot_id
    assert ids.count(eot_id) >= 4  # system, user, history assistant, user turns all end with it too
    # No context or persona token is trained: everything before the span is ignored.
    context = tok.decode(ids[: pos[0]])
    assert "Persona" in context and X in context and all(lab == IGNORE for lab in labels[: pos[0]])


def test_prompt_part_is_what_inference_sees(template):
    """Training ids = tok(prompt with generation header) + tok(x + eot): the serving split."""
    _, tok = template
    feat = tokenize_example(CONVERSATION, tok, max_length=512)
    prompt = tok.apply_chat_template(CONVERSATION[:-1], tokenize=False, add_generation_prompt=True)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert feat["input_ids"][: len(prompt_ids)] == prompt_ids
    assert labelled(feat)[0] == len(prompt_ids)


def test_llama3_pad_is_distinct_from_eos_and_collation_keeps_the_eos_label(base_tokenizer_path):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    tok = tokenizer_for(base_tokenizer_path, "llama3")
    assert tok.pad_token_id != tok.eos_token_id
    short = tokenize_example(CONVERSATION[:1] + CONVERSATION[3:], tok, 512)
    long = tokenize_example(CONVERSATION, tok, 512)
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)([short, long])
    ids, labels, attn = batch["input_ids"], batch["labels"], batch["attention_mask"]
    n_short = len(short["input_ids"])
    assert (ids[0, n_short:] == tok.pad_token_id).all() and (labels[0, n_short:] == IGNORE).all()
    assert (attn[0, n_short:] == 0).all()
    for row, n in ((0, n_short), (1, len(long["input_ids"]))):
        assert labels[row, n - 1].item() == tok.eos_token_id  # the model still learns to stop
        assert tok.pad_token_id not in labels[row].tolist()


def test_pad_equal_to_eos_still_trains_the_end_of_turn(base_tokenizer_path):
    """SmolLM2: pad == eos == <|im_end|>; padding must not erase the trained end-of-turn label."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    tok = tokenizer_for(base_tokenizer_path, "smollm2")
    assert tok.pad_token_id == tok.eos_token_id
    short = tokenize_example(CONVERSATION[:1] + CONVERSATION[3:], tok, 512)
    long = tokenize_example(CONVERSATION, tok, 512)
    labels = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id)([short, long])["labels"]
    n_short = len(short["input_ids"])
    assert labels[0, n_short - 1].item() == tok.eos_token_id
    assert (labels[0, n_short:] == IGNORE).all()
    assert (labels[0] != IGNORE).sum().item() == len(labelled(short))


def test_long_history_is_cut_from_the_left_and_x_is_kept(template):
    _, tok = template
    full = tokenize_example(CONVERSATION, tok, 512)
    n_target = len(labelled(full))
    feat = tokenize_example(CONVERSATION, tok, max_length=n_target + 5)
    assert len(feat["input_ids"]) == n_target + 5
    assert feat["input_ids"][-n_target:] == full["input_ids"][-n_target:]
    assert len(labelled(feat)) == n_target
    assert tokenize_example(CONVERSATION, tok, max_length=n_target - 1) is None


def test_batch_stats_count_drops_and_cuts(template):
    _, tok = template
    n_target = len(labelled(tokenize_example(CONVERSATION, tok, 512)))
    short = CONVERSATION[:1] + CONVERSATION[3:]
    feats, stats = tokenize_examples([CONVERSATION, short], tok, max_length=n_target + 2)
    assert stats["examples"] == len(feats) == 2
    assert stats["truncated_history"] == 2 and stats["dropped_too_long"] == 0
    assert stats["target_tokens"] == 2 * n_target


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "no messages"),
        (CONVERSATION[:-1], "final message must be the assistant"),
        (CONVERSATION[:-1] + [{"role": "assistant", "content": "  "}], "empty"),
        ([{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}], "unknown role"),
    ],
)
def test_bad_examples_get_a_clear_error(base_tokenizer_path, messages, match):
    tok = tokenizer_for(base_tokenizer_path, "smollm2")
    with pytest.raises(MaskingError, match=match):
        tokenize_example(messages, tok, 512)


def test_real_dialogues_mask_only_the_final_reply(base_tokenizer_path, shared_data: Path):
    tok = tokenizer_for(base_tokenizer_path, "smollm2")
    lines = (shared_data / "dailydialog_en" / "validation" / "dialogues_validation.txt").read_text().splitlines()[:20]
    n = 0
    for line in lines:
        turns = [t.strip() for t in line.split("__eou__") if t.strip()]
        turns = turns[: len(turns) - len(turns) % 2]
        if not turns:
            continue
        msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
        feat = tokenize_example(msgs, tok, 1024)
        target = [feat["input_ids"][i] for i in labelled(feat)]
        assert tok.decode(target) == turns[-1] + "<|im_end|>"
        n += 1
    assert n >= 15


def test_malformed_rows_are_skipped_and_counted(base_tokenizer_path):
    tok = tokenizer_for(base_tokenizer_path, "smollm2")
    feats, stats = tokenize_examples([CONVERSATION, CONVERSATION[:-1], [], CONVERSATION], tok, 512)
    assert len(feats) == stats["examples"] == 2
    assert stats["invalid"] == 2
    assert set(stats["invalid_reasons"]) == {"example has no messages",
                                             "the final message must be the assistant reply x (the training target)"}
    assert X not in json.dumps(stats)  # counts and reasons only, never text
