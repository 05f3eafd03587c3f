"""DailyDialog (en): one dialogue per line, turns separated by ``__eou__``, two speakers taking
turns. The first speaker is the user, the second the agent; each dialogue has its own pair of
ids (the corpus has no speaker identities across dialogues)."""

from __future__ import annotations

import re
from pathlib import Path

from vvae_pipeline.ingest.adapters import make_session

SPLITS = ("train", "validation", "test")
# The corpus is tokenised ("I ’ ll", "hello , world"): glue punctuation and clitics back.
_SPACE_BEFORE = re.compile(r" ([,.!?;:%)\]’']|n’t|n't)(?=\s|$|[’'a-z])")
_SPACE_AFTER = re.compile(r"([(\[$]) ")


def detokenize(text: str) -> str:
    text = _SPACE_BEFORE.sub(r"\1", text.strip())
    text = re.sub(r"\s*([’']) (s|ll|re|ve|d|m|t)\b", r"\1\2", text)
    return _SPACE_AFTER.sub(r"\1", text)


def read_sessions(root: Path, split: str = "test", limit: int | None = None,
                  max_annotations: int | None = None) -> list[dict]:
    if split not in SPLITS:
        raise ValueError(f"DailyDialog split must be one of {SPLITS}, got {split!r}")
    path = Path(root) / split / f"dialogues_{split}.txt"
    sessions = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and len(sessions) >= limit:
                break
            utterances = [u for u in line.split("__eou__") if u.strip()]
            turns = [("user" if k % 2 == 0 else "agent", detokenize(u)) for k, u in enumerate(utterances)]
            s = make_session(f"dailydialog-{split}-{i:05d}", f"dailydialog-{split}-{i:05d}-b",
                             f"dailydialog-{split}-{i:05d}-a", "en", turns, max_annotations)
            if s:
                sessions.append(s)
    return sessions
