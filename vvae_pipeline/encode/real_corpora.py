"""Encoder quality on real dialogue whose persona labels were written by others.

- ConvAI2 wild (en): each session's bot plays a persona profile of 4-5 sentences ("i like to go
  hunting.", "i am very shy."). Truth per example = the profile's hobbies (the general hobby
  patterns and lexicon of ``candidates`` applied to the profile sentences, plus "X as a hobby") and
  its personality (trait words of ``lexicons.PERSONALITY_CUES`` in the profile). Sentences are
  the labellers' text, not the dialogue's, but the lexicon bounds both sides: a hobby outside it
  that no pattern catches is neither truth nor prediction.
- CPED (zh): every character has annotated Big-Five levels. Rule (documented, agent-level):
  Extraversion high -> "outgoing", low -> "introverted", unknown -> null. Extraversion is the one
  Big-Five trait with a direct counterpart in the closed personality set; the other four map at best
  partly (agreeableness ~ caring, neuroticism ~ pessimistic) and are not used.

Both give session/agent-level truths that every example of that session/agent inherits: per
example, recall is "how often the encoder states the profile's value", not "how often the text shows
it", so recall is bounded well below 1 for a perfect text reader. ``agent_recovered`` adds the
agent-level view: of the sessions/agents with a label, the share where any extraction matched it.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import polars as pl

from vvae_pipeline.encode import lexicons as lx
from vvae_pipeline.encode.candidates import hobbies
from vvae_pipeline.encode.quality import (
    Match,
    dimension_report,
    exact,
    hobby_match,
    wilson,
)

CORPORA = ("convai2", "cped")
DIMS = {"convai2": ("hobby", "personality"), "cped": ("personality",)}
UNIT = {"convai2": "session_id", "cped": "agent_id"}
_AS_HOBBY = re.compile(r"(?:^|\b)(?:i )?([a-z]+(?: [a-z]+)?) (?:is my hobby|as a hobby)")


def profile_hobbies(sentences: list[str]) -> list[str]:
    found: dict[str, None] = {}
    for s in sentences:
        s = s.lower().strip()
        found.update(dict.fromkeys(hobbies(s, "en")))
        found.update(dict.fromkeys(m.group(1) for m in _AS_HOBBY.finditer(s)))
    return list(found)


def profile_personality(sentences: list[str]) -> list[str]:
    text = " " + " ".join(s.lower() for s in sentences) + " "
    return [v for v, cues in lx.PERSONALITY_CUES.items()
            if any(c.isascii() and re.search(rf"(?<![a-z]){re.escape(c)}(?![a-z])", text) for c in cues)]


def cped_personality(extraversion: str | None) -> str | None:
    return {"high": "outgoing", "low": "introverted"}.get((extraversion or "").lower())


def _scrubbed_frame(sessions: list[dict], corpus: str) -> pl.DataFrame:
    rows = []
    for i, s in enumerate(sessions):
        rows.append({"batch_id": f"real-{corpus}", "source_file": f"{corpus}.jsonl", "source_line": i + 1,
                     "session_id": s["session_id"], "agent_id": s["agent_id"], "user_id": s["user_id"],
                     "language": s["language"], "turns": [{"role": t["role"], "text": t["text"], "ts": None}
                                                          for t in s["turns"]],
                     "annotations": [{"turn_index": a["turn_index"], "rewritten_text": a["rewritten_text"],
                                      "annotator_id": None} for a in s["annotations"]],
                     "x_source": s["x_source"], "pii_found": 0})
    return pl.DataFrame(rows, schema={
        "batch_id": pl.Utf8, "source_file": pl.Utf8, "source_line": pl.Int64, "session_id": pl.Utf8,
        "agent_id": pl.Utf8, "user_id": pl.Utf8, "language": pl.Utf8,
        "turns": pl.List(pl.Struct({"role": pl.Utf8, "text": pl.Utf8, "ts": pl.Utf8})),
        "annotations": pl.List(pl.Struct({"turn_index": pl.Int64, "rewritten_text": pl.Utf8, "annotator_id": pl.Utf8})),
        "x_source": pl.Utf8, "pii_found": pl.Int64})


def load(corpus: str, root: Path, n_items: int, seed: int = 0, max_annotations: int = 2) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(items as ``extract.build_items`` makes them, labels keyed by ``UNIT[corpus]``): a seeded
    sample of sessions, at most ``max_annotations`` examples each, until ``n_items`` examples."""
    from vvae_pipeline.encode.extract import build_items
    from vvae_pipeline.ingest.adapters import convai2, cped

    root = Path(root)
    if corpus == "convai2":
        sessions = convai2.read_sessions(root / "convai2_wild_en", part="intermediate", max_annotations=max_annotations)
        prof = convai2.read_profiles(root / "convai2_wild_en", part="intermediate")
        labels = prof.select("session_id", pl.col("bot_profile").map_elements(
            profile_hobbies, return_dtype=pl.List(pl.Utf8)).alias("hobby"), pl.col("bot_profile").map_elements(
            profile_personality, return_dtype=pl.List(pl.Utf8)).alias("personality"))
    elif corpus == "cped":
        sessions = cped.read_sessions(root / "cped_zh", split="test", max_annotations=max_annotations)
        traits = cped.read_traits(root / "cped_zh", split="test")
        labels = traits.select("agent_id", pl.col("extraversion").map_elements(
            cped_personality, return_dtype=pl.Utf8).alias("personality")).unique("agent_id", keep="first")
    else:
        raise ValueError(f"corpus must be one of {CORPORA}, got {corpus!r}")
    # Sessions with at least two turns of context so that there is a chat to read.
    sessions = [s for s in sessions if len(s["turns"]) >= 3]
    random.Random(seed).shuffle(sessions)
    picked, n = [], 0
    for s in sessions:
        if n >= n_items:
            break
        picked.append(s)
        n += len(s["annotations"])
    items, _ = build_items(_scrubbed_frame(picked, corpus))
    return items.head(n_items), labels


def _cells(values) -> frozenset | None:
    if values is None:
        return None
    vals = [values] if isinstance(values, str) else list(values)
    return frozenset(v for v in vals if v) or None


def evaluate(corpus: str, extractions: pl.DataFrame, labels: pl.DataFrame) -> dict:
    """Per dimension the example-level report (encoder, majority, always null) and the unit-level
    share of labelled sessions/agents any extraction recovered."""
    unit = UNIT[corpus]
    joined = extractions.join(labels, on=unit, how="left", suffix="_true")
    out: dict = {"corpus": corpus, "n_matched": joined.height, "n_units": joined[unit].n_unique(), "dimensions": {}}
    matchers: dict[str, Match] = {"hobby": hobby_match}
    for d in DIMS[corpus]:
        match = matchers.get(d, exact)
        pred = joined[d].to_list()
        true = [_cells(v) for v in joined[f"{d}_true" if f"{d}_true" in joined.columns else d].to_list()]
        rep = dimension_report(pred, true, match)
        per_unit: dict[str, tuple[frozenset | None, bool]] = {}
        for u, p, t in zip(joined[unit].to_list(), pred, true):
            hit = p is not None and bool(t) and match(p, t)
            per_unit[u] = (t, per_unit.get(u, (t, False))[1] or hit)
        labelled = [hit for t, hit in per_unit.values() if t]
        rep["agent_recovered"] = {"k": sum(labelled), "n": len(labelled), "ci": wilson(sum(labelled), len(labelled))}
        out["dimensions"][d] = rep
    return out
