"""LCCC toy split (zh): real Weibo multi-turn threads, every character separated by a space.
Spaces are removed (the corpus splits Latin words into letters too: "h a p p y" -> "happy");
the first speaker is the user, the second the agent, alternating."""

from __future__ import annotations

import json
from pathlib import Path

from vvae_pipeline.ingest.adapters import make_session

SPLITS = ("train", "valid", "test")


def despace(text: str) -> str:
    return "".join(text.split())


def read_sessions(root: Path, split: str = "test", limit: int | None = None,
                  max_annotations: int | None = None) -> list[dict]:
    if split not in SPLITS:
        raise ValueError(f"LCCC split must be one of {SPLITS}, got {split!r}")
    data = json.loads((Path(root) / "toy_data.json").read_text(encoding="utf-8"))
    sessions = []
    for i, dialog in enumerate(data[split]):
        if limit is not None and len(sessions) >= limit:
            break
        turns = [("user" if k % 2 == 0 else "agent", despace(u)) for k, u in enumerate(dialog)]
        s = make_session(f"lccc-{split}-{i:04d}", f"lccc-{split}-{i:04d}-b", f"lccc-{split}-{i:04d}-a", "zh",
                         turns, max_annotations)
        if s:
            sessions.append(s)
    return sessions
