"""ConvAI2 wild evaluation (en): volunteers chatting with persona bots.

The bot is the agent (its ``bot_profile`` is the persona), the human volunteer is the user;
agent/user ids come from the corpus ("Bot 004" -> ``convai2-bot-004``). Profiles do not belong
to a session; ``read_profiles`` returns them per session id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from vvae_pipeline.ingest.adapters import make_session

FILES = {"volunteers": "data_volunteers.json", "intermediate": "data_intermediate.json"}


def _id(raw: str) -> str:
    return "convai2-" + re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")


def _dialogs(root: Path, part: str) -> list[dict]:
    if part not in FILES:
        raise ValueError(f"ConvAI2 part must be one of {tuple(FILES)}, got {part!r}")
    return json.loads((Path(root) / FILES[part]).read_text(encoding="utf-8"))


def _session_id(part: str, i: int) -> str:
    return f"convai2-{part}-{i:04d}"


def read_sessions(root: Path, part: str = "intermediate", limit: int | None = None,
                  max_annotations: int | None = None) -> list[dict]:
    sessions = []
    for i, d in enumerate(_dialogs(root, part)):
        if limit is not None and len(sessions) >= limit:
            break
        ids = {k: d[k] for k in ("participant1_id", "participant2_id")}
        bot = next((v for v in ids.values() if v.get("class") == "Bot"), None)
        human = next((v for v in ids.values() if v.get("class") != "Bot"), None)
        if bot is None or human is None:
            continue
        turns = [("agent" if t.get("sender_class") == "Bot" else "user", t.get("text") or "") for t in d["dialog"]]
        s = make_session(_session_id(part, i), _id(bot["user_id"]), _id(human["user_id"]), "en", turns,
                         max_annotations)
        if s:
            sessions.append(s)
    return sessions


def read_profiles(root: Path, part: str = "intermediate") -> pl.DataFrame:
    rows = [{"session_id": _session_id(part, i), "bot_profile": d.get("bot_profile") or [],
             "user_profile": d.get("user_profile") or []} for i, d in enumerate(_dialogs(root, part))]
    return pl.DataFrame(rows, schema={"session_id": pl.Utf8, "bot_profile": pl.List(pl.Utf8),
                                      "user_profile": pl.List(pl.Utf8)})
