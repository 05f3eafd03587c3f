"""Tokenise SFT examples with a backbone's chat template and build assistant-only labels.

An example's ``messages`` are: optional system (persona), the history, and a FINAL assistant
message, the target reply x. Loss covers exactly the tokens of x plus the end-of-turn token that
closes it (``<|im_end|>`` for ChatML, ``<|eot_id|>`` for Llama 3): the model must learn both what
to say and when to stop. Every other token (system/persona, history, earlier assistant turns,
role headers, whatever the template writes after the end-of-turn) gets label -100.

The ids are ``tok(prompt) + tok(x + eot)`` where ``prompt`` is the template rendered with
``add_generation_prompt=True``: the same split that inference sees (the prompt is tokenised alone,
then x is generated), so training and serving agree token for token at the boundary.
"""

from __future__ import annotations

IGNORE = -100
_SENTINEL = "\u2063vvae-sentinel\u2063"


class MaskingError(ValueError):
    """The template cannot be split into prompt and target the way masking needs."""


def end_of_turn_token(tokenizer) -> str:
    """The token the template writes right after an assistant message (found by rendering)."""
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _SENTINEL}], tokenize=False
    )
    after = text[text.index(_SENTINEL) + len(_SENTINEL):]
    specials = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {}))
    for tok in sorted(specials, key=len, reverse=True):
        if tok and after.startswith(tok):
            return tok
    raise MaskingError(f"the chat template writes {after[:20]!r} after an assistant turn, not a special token")


def _check_messages(messages: list[dict]) -> None:
    if not messages:
        raise MaskingError("example has no messages")
    for m in messages:
        if m.get("role") not in {"system", "user", "assistant"}:
            raise MaskingError(f"unknown role {m.get('role')!r}")
        if not isinstance(m.get("content"), str):
            raise MaskingError("message content must be a string")
    if messages[-1]["role"] != "assistant":
        raise MaskingError("the final message must be the assistant reply x (the training target)")
    if len(messages) < 2:
        # Its prompt would be an empty conversation, which chat templates refuse to render (and a
        # model is never asked to reply to nothing): sft.persona_prompt.with_messages gives a first
        # turn the opening user turn, so only a row built elsewhere can get here.
        raise MaskingError("nothing before the target reply x")
    if not messages[-1]["content"].strip():
        raise MaskingError("the target reply x is empty")


def tokenize_example(messages: list[dict], tokenizer, max_length: int, eot: str | None = None) -> dict | None:
    """``{"input_ids", "labels"}`` for one example, or None when x + eot does not fit max_length.

    Over-long examples lose history from the left of the prompt (the target is never cut).
    """
    return _tokenize(messages, tokenizer, max_length, eot or end_of_turn_token(tokenizer))[0]


def _tokenize(messages: list[dict], tokenizer, max_length: int, eot: str) -> tuple[dict | None, bool]:
    _check_messages(messages)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise MaskingError("the rendered conversation does not start with the rendered prompt")
    rest = full[len(prompt):]
    cut = rest.find(eot)
    if cut < 0:
        raise MaskingError(f"end-of-turn {eot!r} not found after the target reply")
    rendered_x = rest[:cut]
    if rendered_x.strip() != messages[-1]["content"].strip():
        raise MaskingError("the template changed the target reply beyond trimming whitespace")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(rendered_x + eot, add_special_tokens=False)["input_ids"]
    if len(target_ids) > max_length:
        return None, False
    keep = max_length - len(target_ids)
    truncated = keep < len(prompt_ids)
    if truncated:
        prompt_ids = prompt_ids[len(prompt_ids) - keep:] if keep else []
    return {"input_ids": prompt_ids + target_ids, "labels": [IGNORE] * len(prompt_ids) + target_ids}, truncated


def tokenize_examples(rows: list[list[dict]], tokenizer, max_length: int) -> tuple[list[dict], dict]:
    """Tokenise many examples; returns (features, stats). Stats carry counts only, never text.

    Rows whose messages cannot be masked (see ``MaskingError``) are skipped and counted by reason.
    """
    eot = end_of_turn_token(tokenizer)
    features, dropped, truncated, invalid = [], 0, 0, {}
    for messages in rows:
        try:
            feat, cut = _tokenize(messages, tokenizer, max_length, eot)
        except MaskingError as exc:
            # One malformed row must not sink a long run: skip it and count the reason (no content).
            invalid[str(exc)] = invalid.get(str(exc), 0) + 1
            continue
        if feat is None:
            dropped += 1
            continue
        truncated += cut
        features.append(feat)
    stats = {
        "examples": len(features),
        "dropped_too_long": dropped,
        "invalid": sum(invalid.values()),
        "invalid_reasons": invalid,
        "truncated_history": truncated,
        "tokens": sum(len(f["input_ids"]) for f in features),
        "target_tokens": sum(sum(1 for x in f["labels"] if x != IGNORE) for f in features),
    }
    return features, stats
