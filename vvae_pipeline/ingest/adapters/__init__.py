"""Adapters: public dialogue corpora -> the vvae landing format (docs/session.schema.json).

None of these corpora has human rewrites, so the target reply x is the agent's original reply:
every agent turn (up to ``max_annotations`` per session) becomes an annotation whose
``rewritten_text`` is that turn's own text, and ``x_source`` is ``"original_reply"``.

| corpus         | language | agent (whose persona z describes)         | user                     |
|----------------|----------|-------------------------------------------|--------------------------|
| DailyDialog    | en       | the second speaker of each dialogue       | the first speaker        |
| LCCC (toy)     | zh       | the second speaker of each Weibo thread   | the first speaker        |
| CPED           | zh       | each TV character (one agent id per show  | everyone else in the     |
|                |          | and speaker), display name = speaker name | scene                    |
| ConvAI2 wild   | en       | the persona bot (bot_profile)             | the human volunteer      |

    python -m vvae_pipeline.ingest.adapters dailydialog ../shared/data/dailydialog_en \
        $VVAE_HOME/landing/dd.jsonl --limit 500
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

ADAPTERS = ("dailydialog", "lccc", "cped", "convai2")


def make_session(session_id: str, agent_id: str, user_id: str, language: str, turns: list[tuple[str, str]],
                 max_annotations: int | None = None, agent_name: str | None = None,
                 user_name: str | None = None) -> dict | None:
    """A landing-format session from (role, text) turns; None when no agent turn is left to learn
    from. Blank turns are dropped (the landing schema refuses them)."""
    kept = [{"role": role, "text": text.strip()} for role, text in turns if text and text.strip()]
    agent_idx = [i for i, t in enumerate(kept) if t["role"] == "agent"]
    if not agent_idx:
        return None
    if max_annotations is not None:
        agent_idx = agent_idx[:max_annotations]
    session = {
        "session_id": session_id, "agent_id": agent_id, "user_id": user_id, "language": language,
        "turns": kept, "x_source": "original_reply",
        "annotations": [{"turn_index": i, "rewritten_text": kept[i]["text"]} for i in agent_idx],
    }
    if agent_name:
        session["agent_name"] = agent_name
    if user_name:
        session["user_name"] = user_name
    return session


def write_jsonl(sessions: Iterable[dict], path: Path) -> int:
    """Land sessions as one JSON Lines file, atomically (temp dot-file + rename, so the landing
    sensor never sees half a file). Returns the number written."""
    from vvae_pipeline.storage_io import atomic_write_bytes

    lines = [json.dumps(s, ensure_ascii=False) + "\n" for s in sessions]
    atomic_write_bytes(Path(path), "".join(lines).encode("utf-8"))
    return len(lines)


def read_sessions(corpus: str, root: Path, **kwargs) -> list[dict]:
    import importlib

    if corpus not in ADAPTERS:
        raise ValueError(f"unknown corpus {corpus!r}: expected one of {ADAPTERS}")
    return importlib.import_module(f"vvae_pipeline.ingest.adapters.{corpus}").read_sessions(Path(root), **kwargs)
