"""A seeded generator of realistic companion-chat sessions in the landing format.

It is the embedded default data set: several agents (zh and en), each with a true persona whose
talking style shows at human-like rates (catchphrase in ~5-15% of agent turns, emoji ~5-10%,
hobby ~2-5%), user turns with realistic PII for the scrubber to remove, and annotated rewrites
(the target reply x). Because it knows each agent's persona, it also writes the truth the encoder
is scored against: per annotated example, the value each dimension truly shows in (c, x).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl

from vvae_pipeline.ingest.demo_agents import AGENTS, AgentPersona  # noqa: E402,F401 (API)
from vvae_pipeline.latent import DIMENSION_NAMES

TOPICS = {
    "en": [("work", "work"), ("travel", "trip"), ("food", "dinner"), ("movies", "movie"), ("sleep", "sleep")],
    "zh": [("工作", "工作"), ("旅行", "旅行"), ("美食", "吃饭"), ("电影", "电影"), ("学习", "考试")],
}

USER_LINES = {
    "en": ["Ugh, {kw} was exhausting today.", "Do you have any plans for the weekend?",
           "I can't stop thinking about {kw}.", "What do you think I should do about {kw}?",
           "Guess what happened at {kw} today!", "I'm bored, talk to me.", "Honestly I feel a bit lonely tonight.",
           "Can you recommend something to cheer me up?"],
    "zh": ["今天{kw}累死了。", "周末你有什么安排吗？", "我一直在想{kw}的事。", "你觉得{kw}这件事我该怎么办？",
           "猜猜今天{kw}发生了什么！", "好无聊啊，陪我聊聊天。", "今晚有点孤单。", "有什么能让我开心一点的吗？"],
}
AGENT_LINES = {
    "en": ["That sounds like a lot, tell me more about the {kw}.", "Take a deep breath, one thing at a time.",
           "Honestly, I think you handled the {kw} better than you think.",
           "Maybe treat yourself tonight, you deserve it.",
           "Oh wow, I did not see that coming!", "How about we plan something fun for the {kw}?",
           "I'm listening, what happened next?", "Sleep on it and decide tomorrow."],
    "zh": ["听起来好辛苦，跟我说说{kw}的事吧。", "先深呼吸，一件一件来。", "我觉得{kw}你处理得比你想的好。",
           "今晚犒劳一下自己吧。", "哇，没想到会这样！", "要不我们给{kw}安排点好玩的？", "我在听，后来呢？",
           "先睡一觉，明天再决定。"],
}
HOBBY_LINES = {"en": "I spent the evening {hobby}, it always clears my head.", "zh": "我昨天又去{hobby}了，特别解压。"}

# Realistic PII planted in user turns (all fictitious): the scrubber must remove every one.
USER_NAMES = {"en": ["Emily Carter", "James Wilson", "Sophia Nguyen", "Daniel Brooks"],
              "zh": ["王芳", "李伟", "张静", "刘洋"]}
PII_LINES = {
    "en": ["btw my new number is (415) 555-{n4}, text me", "send it to {email} please",
           "I moved to {num} Maple Street, Springfield", "I'm {user_name} by the way, nice to meet you properly",
           "my card 4111 1111 1111 1111 got declined lol", "find me on insta @{handle}"],
    "zh": ["我新手机号是138{n4}{n4b}，有事打我", "发到我邮箱 {email} 吧", "我搬到了上海市徐汇区漕溪北路{num}号",
           "我叫{user_name}，以后多多关照", "我微信号是 wx_{handle}，加我", "我身份证号 11010519491231002X 别告诉别人"],
}


def _agent_turn(rng: random.Random, a: AgentPersona, kw: str, rates: dict[str, float]) -> str:
    text = rng.choice(AGENT_LINES[a.language]).format(kw=kw)
    sep = " " if a.language == "en" else "，"
    if rng.random() < rates["nickname"]:
        text = f"{a.nickname}{sep}{text}" if a.language == "zh" else f"Hey {a.nickname}, {text[0].lower()}{text[1:]}"
    if rng.random() < rates["catchphrase"]:
        text = f"{text}{sep}{a.catchphrase}" if a.language == "en" else f"{a.catchphrase}{sep}{text}"
    if rng.random() < rates["hobby"]:
        text = f"{text} {HOBBY_LINES[a.language].format(hobby=a.hobby)}"
    if rng.random() < rates["relationship"]:
        text = f"{text} {a.relationship_cue}."
    if rng.random() < rates["personality"]:
        text = f"{text} {a.personality_cue}."
    if rng.random() < rates["emoji"]:
        text = f"{text} {a.emoji}"
    return text


def _user_turn(rng: random.Random, lang: str, kw: str, user_name: str, pii_rate: float) -> str:
    text = rng.choice(USER_LINES[lang]).format(kw=kw)
    if rng.random() < pii_rate:
        handle = user_name.split()[0].lower() if lang == "en" else f"{rng.randint(1000, 9999)}"
        pii = rng.choice(PII_LINES[lang]).format(
            n4=f"{rng.randint(1000, 9999)}", n4b=f"{rng.randint(1000, 9999)}", num=rng.randint(3, 899),
            email=f"{handle}{rng.randint(1, 99)}@example.com", user_name=user_name,
            handle=f"{handle}_{rng.randint(10, 99)}",
        )
        text = f"{text} {pii}"
    return text


def _shown(a: AgentPersona, agent_text: str, topic_kw: str, all_text: str) -> dict[str, str | None]:
    """What (c, x) truly shows: a value counts only when the text carries it."""
    return {
        "catchphrase": a.catchphrase if a.catchphrase in agent_text else None,
        "emoji": a.emoji if a.emoji in agent_text else None,
        "tone": a.tone,  # every agent turn is written in the agent's tone
        "nickname": a.nickname if a.nickname in agent_text else None,
        "relationship": a.relationship if a.relationship_cue in agent_text else None,
        "vibe": a.vibe,
        "topic": topic_kw if topic_kw in all_text else None,
        "personality": a.personality if a.personality_cue in agent_text else None,
        "hobby": a.hobby if a.hobby in agent_text else None,
    }


DEFAULT_RATES = {"catchphrase": 0.12, "emoji": 0.08, "hobby": 0.04, "nickname": 0.15,
                 "relationship": 0.08, "personality": 0.06}
# Dimensions a platform can declare for an agent (topic is per conversation, not per agent).
DECLARABLE = ("catchphrase", "emoji", "tone", "nickname", "relationship", "vibe", "personality", "hobby")


def declared_profile(a: AgentPersona, agent_id: str, seed: int, share: float) -> dict[str, str] | None:
    """The profile the platform declares for an agent: each declarable dimension of the persona it is
    generated from, kept with probability ``share`` (its own seeded stream, so the sessions do not
    change with it); None when nothing is declared."""
    rng = random.Random(f"{seed}:profile:{agent_id}")
    profile = {d: getattr(a, d) for d in DECLARABLE if rng.random() < share}
    return profile or None


def generate_demo(n_agents: int = 6, sessions_per_agent: int = 5, turns_per_session: int = 8,
                  annotations_per_session: int = 3, seed: int = 0, pii_rate: float = 0.3,
                  rates: dict[str, float] | None = None,
                  declared_share: float = 0.75) -> tuple[list[dict], pl.DataFrame]:
    """Sessions in the landing format and the truth table (one row per annotated example). Every
    session carries its agent's declared ``agent_profile`` (``declared_profile``; 0: none)."""
    rng = random.Random(seed)
    rates = {**DEFAULT_RATES, **(rates or {})}
    agents = [AGENTS[i % len(AGENTS)] for i in range(n_agents)]
    sessions, truth = [], []
    for ai, a in enumerate(agents):
        agent_id = a.agent_id if ai < len(AGENTS) else f"{a.agent_id}_{ai}"
        profile = declared_profile(a, agent_id, seed, declared_share)
        for s in range(sessions_per_agent):
            lang = a.language
            user_name = rng.choice(USER_NAMES[lang])
            topic, kw = rng.choice(TOPICS[lang])
            turns = []
            for t in range(turns_per_session):
                role = "user" if t % 2 == 0 else "agent"
                text = (_user_turn(rng, lang, kw, user_name, pii_rate) if role == "user"
                        else _agent_turn(rng, a, kw, rates))
                turns.append({"role": role, "text": text, "ts": f"2026-11-{1 + s:02d}T20:{t:02d}:00Z"})
            agent_idx = [i for i, t in enumerate(turns) if t["role"] == "agent"]
            chosen = sorted(rng.sample(agent_idx, min(annotations_per_session, len(agent_idx))))
            session_id = f"demo-{seed}-{ai:02d}-{s:03d}"
            annotations = []
            for ti in chosen:
                # The human rewrite keeps the agent's voice but edits the wording.
                x = _agent_turn(rng, a, kw, rates)
                annotations.append({"turn_index": ti, "rewritten_text": x, "annotator_id": f"ann_{rng.randint(1, 4)}"})
                agent_text = " ".join(t["text"] for t in turns[:ti] if t["role"] == "agent") + " " + x
                all_text = " ".join(t["text"] for t in turns[:ti]) + " " + x
                truth.append({"session_id": session_id, "turn_index": ti, "agent_id": agent_id, "language": lang,
                              **_shown(a, agent_text, topic if topic in all_text else kw, all_text)})
            sessions.append({
                "session_id": session_id, "agent_id": agent_id,
                "user_id": f"user_{rng.randint(10000, 99999)}", "agent_name": a.name, "user_name": user_name,
                "language": lang, "turns": turns, "annotations": annotations,
                **({"agent_profile": profile} if profile else {}),
            })
    schema = {"session_id": pl.Utf8, "turn_index": pl.Int64, "agent_id": pl.Utf8, "language": pl.Utf8,
              **{d: pl.Utf8 for d in DIMENSION_NAMES}}
    return sessions, pl.DataFrame(truth, schema=schema)


def write_demo(landing_dir: Path, truth_path: Path, seed: int = 0, **kwargs) -> tuple[Path, int]:
    """Write one landing file (JSON Lines) and the truth table; returns (file, n_sessions)."""
    from vvae_pipeline.storage_io import atomic_write_bytes, atomic_write_parquet

    sessions, truth = generate_demo(seed=seed, **kwargs)
    path = Path(landing_dir) / f"demo-{seed}.jsonl"
    atomic_write_bytes(path, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sessions).encode())
    atomic_write_parquet(Path(truth_path), truth)
    return path, len(sessions)
