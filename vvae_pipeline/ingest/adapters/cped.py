"""CPED (zh): TV-series scenes, one utterance per CSV row with speaker and Big-Five traits.

Each speaker of a scene becomes an agent in turn (agent id ``cped-<show>-<speaker>``, stable
across scenes, so per-agent priors and the per-agent cap see one character); the other speakers
are the user. The speaker's name is the agent's display name (the scrubber replaces it in text).
Traits do not belong to a session; ``read_traits`` returns them as a table per agent id.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from vvae_pipeline.ingest.adapters import make_session

SPLITS = ("valid", "test")
TRAITS = ("Gender", "Age", "Neuroticism", "Extraversion", "Openness", "Agreeableness", "Conscientiousness")


def _read(root: Path, split: str) -> pl.DataFrame:
    if split not in SPLITS:
        raise ValueError(f"CPED split must be one of {SPLITS}, got {split!r}")
    # utf8-lossy: the CSV starts with a BOM; polars strips it from the header.
    return pl.read_csv(Path(root) / f"{split}_split.csv", infer_schema=False, encoding="utf8-lossy")


def agent_id(tv_id: str, speaker: str) -> str:
    # Speaker names are Chinese; ids stay ASCII: a short hash of the name.
    return f"cped-{tv_id}-{hashlib.sha1(speaker.encode()).hexdigest()[:8]}"


def read_sessions(root: Path, split: str = "test", limit: int | None = None, min_agent_turns: int = 2,
                  max_annotations: int | None = None) -> list[dict]:
    df = _read(root, split).select("TV_ID", "Dialogue_ID", "Utterance_ID", "Speaker", "Utterance")
    sessions = []
    for (dialogue_id,), scene in df.group_by("Dialogue_ID", maintain_order=True):
        rows = scene.sort("Utterance_ID").iter_rows(named=True)
        rows = list(rows)
        tv = rows[0]["TV_ID"]
        speakers = sorted({r["Speaker"] for r in rows}, key=lambda s: [r["Speaker"] for r in rows].index(s))
        for speaker in speakers:
            if sum(r["Speaker"] == speaker for r in rows) < min_agent_turns:
                continue
            turns = [("agent" if r["Speaker"] == speaker else "user", r["Utterance"] or "") for r in rows]
            others = [s for s in speakers if s != speaker]
            aid = agent_id(tv, speaker)
            s = make_session(f"cped-{dialogue_id}-{aid.rsplit('-', 1)[1]}", aid,
                             f"cped-{dialogue_id}-others", "zh", turns, max_annotations,
                             agent_name=speaker, user_name="、".join(others) or None)
            if s:
                sessions.append(s)
            if limit is not None and len(sessions) >= limit:
                return sessions
    return sessions


def read_traits(root: Path, split: str = "test") -> pl.DataFrame:
    """One row per (show, speaker): agent id, display name and the annotated traits."""
    df = _read(root, split)
    return (df.group_by("TV_ID", "Speaker", maintain_order=True).agg([pl.col(t).mode().first() for t in TRAITS])
            .with_columns(agent_id=pl.struct("TV_ID", "Speaker").map_elements(
                lambda r: agent_id(r["TV_ID"], r["Speaker"]), return_dtype=pl.Utf8))
            .select("agent_id", pl.col("Speaker").alias("agent_name"), *[pl.col(t).str.to_lowercase().alias(t.lower())
                                                                       for t in TRAITS]))
