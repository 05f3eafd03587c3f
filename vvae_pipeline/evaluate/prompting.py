"""The paper's API baselines: the persona in a system message plus k example exchanges.

The persona shown is the test-time z (evaluate.deployment_persona), never one read from the target reply;
the shots are (last user turn, human reply) pairs from the agent's *other* sessions.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from vvae_pipeline.llm.generation import Messages, prompt_messages

_PERSONA_INTRO = {
    "en": "You are a companion chatting with a user. Stay in character. Your persona:",
    "zh": "你是一个陪伴聊天的角色，请保持人设。你的人设：",
}
_PERSONA_SHOTS = {
    "en": "Here are some replies you wrote before.",
    "zh": "下面是你以前的一些回复。",
}
_FIELD_LABELS = {
    "en": {"catchphrase": "catchphrase", "emoji": "favourite emoji", "tone": "tone", "nickname":
           "you call the user", "relationship": "relationship", "vibe": "vibe", "topic": "topic",
           "personality": "personality", "hobby": "hobby"},
    "zh": {"catchphrase": "口头禅", "emoji": "常用表情", "tone": "语气", "nickname": "你对用户的称呼",
           "relationship": "关系", "vibe": "氛围", "topic": "话题", "personality": "性格", "hobby": "爱好"},
}


def persona_system(persona: Mapping[str, object], language: str, k: int) -> str:
    lang = language if language in _PERSONA_INTRO else "en"
    labels = _FIELD_LABELS[lang]
    lines = [_PERSONA_INTRO[lang]]
    lines += [f"- {labels[d]}: {persona[d]}" for d in labels if persona.get(d)]
    if k:
        lines.append(_PERSONA_SHOTS[lang])
    return "\n".join(lines)


def _history(messages: Sequence[dict]) -> Messages:
    return [m for m in prompt_messages(messages) if m["role"] != "system"]


def _last_user(messages: Messages) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def shot_prompts(
    rows: Sequence[Mapping],
    personas: Sequence[Mapping[str, object]],
    k: int,
    pool: Sequence[Mapping] | None = None,
    seed: int = 0,
) -> list[Messages]:
    """Zero/k-shot prompts: persona in the system message, k example exchanges, then the context.

    ``rows`` need ``messages``, ``agent_id``, ``session_id``, ``language``, ``example_id``; the
    shots are (last user turn, human reply) pairs drawn, seeded per row, from ``pool`` (default:
    ``rows``): the same agent's other sessions first, then other agents of the same language.
    A row's own session is never a shot, so its target reply cannot leak into its prompt.
    """
    pool = list(rows if pool is None else pool)
    prompts: list[Messages] = []
    for row, persona in zip(rows, personas, strict=True):
        history = _history(row["messages"])
        shots: list[Mapping] = []
        if k:
            rng = random.Random(f"{seed}:{row['example_id']}")
            others = [p for p in pool if p["session_id"] != row["session_id"]]
            same_agent = [p for p in others if p["agent_id"] == row["agent_id"]]
            same_lang = [p for p in others if p["agent_id"] != row["agent_id"] and p["language"] == row["language"]]
            rng.shuffle(same_agent)
            rng.shuffle(same_lang)
            shots = (same_agent + same_lang)[:k]
        msgs: Messages = [{"role": "system", "content": persona_system(persona, row["language"], len(shots))}]
        for shot in shots:
            msgs.append({"role": "user", "content": _last_user(_history(shot["messages"])) or "..."})
            msgs.append({"role": "assistant", "content": str(shot["reply"])})
        prompts.append(msgs + (history or [{"role": "user", "content": ""}]))
    return prompts
