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

- Emotions (CPED zh, DailyDialog en): every utterance carries an annotated emotion; the target
  reply x's emotion is the truth of ``vibe`` (the exchange's emotional atmosphere) and ``tone``
  through ``EMOTION_VIBE`` / ``EMOTION_TONE``: a set of accepted values per emotion label, null
  where the closed sets have no counterpart (surprise, fear for tone, "other" labels).
- Not measurable here: DailyDialog's topic labels (dialogues_topic.txt follows the order of the
  corpus' dialogues_text.txt, which the split files do not: under either alignment, dialogues
  labelled Tourism mention hotel/flight/trip/travel/ticket words as often as the others, 10% vs
  5-11% of 11,118 train dialogues); no corpus labels relationship, catchphrase, emoji or nickname.

Profile and trait truths are session/agent-level, inherited by every example of that session/agent:
per example, recall is "how often the encoder states the profile's value", not "how often the text
shows it", so recall is bounded well below 1 for a perfect text reader. ``agent_recovered`` adds
the agent-level view: of the sessions/agents with a label, the share where any extraction matched.
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
    rate_ci,
)

CORPORA = ("convai2", "cped", "dailydialog")
DIMS = {"convai2": ("hobby", "personality"), "cped": ("personality", "vibe", "tone"), "dailydialog": ("vibe", "tone")}
UNIT = {"convai2": "session_id", "cped": "agent_id", "dailydialog": "session_id"}
KEYS = ("session_id", "turn_index")

# Emotion label (CPED's 13, DailyDialog's 7 named) -> accepted values of the closed sets.
_POSITIVE_VIBE = ("warm", "playful", "supportive")
EMOTION_VIBE: dict[str, tuple[str, ...]] = {
    "neutral": ("neutral",), "no emotion": ("neutral",),
    "happy": _POSITIVE_VIBE, "happiness": _POSITIVE_VIBE, "relaxed": _POSITIVE_VIBE,
    "grateful": _POSITIVE_VIBE, "positive-other": _POSITIVE_VIBE,
    "anger": ("tense",), "disgust": ("tense",), "fear": ("tense",), "worried": ("tense",),
    "sadness": ("melancholic",), "depress": ("melancholic",),
}
EMOTION_TONE: dict[str, tuple[str, ...]] = {
    "neutral": ("calm", "casual", "formal"), "no emotion": ("calm", "casual", "formal"),
    "happy": ("cheerful", "enthusiastic", "playful", "humorous"),
    "happiness": ("cheerful", "enthusiastic", "playful", "humorous"),
    "relaxed": ("calm", "casual", "gentle"), "grateful": ("gentle", "cheerful"),
    "positive-other": ("cheerful", "gentle", "playful"),
    "anger": ("cold", "sarcastic"), "disgust": ("cold", "sarcastic"),
}
DD_EMOTIONS = ("no emotion", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
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


def cped_emotions(root: Path, split: str = "test") -> dict[str, list[str]]:
    """Per scene (Dialogue_ID), the emotion of each kept utterance in the adapter's turn order."""
    df = pl.read_csv(Path(root) / "cped_zh" / f"{split}_split.csv", infer_schema=False, encoding="utf8-lossy")
    out: dict[str, list[str]] = {}
    for (dialogue,), scene in df.group_by("Dialogue_ID", maintain_order=True):
        rows = scene.sort("Utterance_ID")
        out[dialogue] = [(e or "").lower() for u, e in zip(rows["Utterance"], rows["Emotion"]) if u and u.strip()]
    return out


def dailydialog_emotions(root: Path, split: str = "test") -> list[list[str]]:
    """Per dialogue line, the emotion of each kept utterance (the adapter drops blank ones)."""
    folder = Path(root) / "dailydialog_en" / split
    texts = (folder / f"dialogues_{split}.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / f"dialogues_emotion_{split}.txt").read_text(encoding="utf-8").splitlines()
    out = []
    for text, lab in zip(texts, labels):
        utterances = text.split("__eou__")
        codes = lab.split()
        out.append([DD_EMOTIONS[int(c)] for u, c in zip(utterances, codes) if u.strip()])
    return out


def _emotion_cells(emotion: str | None) -> dict[str, list[str] | None]:
    return {"vibe": list(EMOTION_VIBE[emotion]) if emotion in EMOTION_VIBE else None,
            "tone": list(EMOTION_TONE[emotion]) if emotion in EMOTION_TONE else None}


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


def load(
    corpus: str, root: Path, n_items: int, seed: int = 0, max_annotations: int = 2
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(items as ``extract.build_items`` makes them, labels per example keyed by ``KEYS`` with the
    unit column ``UNIT[corpus]``): a seeded sample of sessions, at most ``max_annotations``
    examples each, until ``n_items`` examples."""
    from vvae_pipeline.encode.extract import build_items
    from vvae_pipeline.ingest.adapters import convai2, cped, dailydialog

    root = Path(root)
    if corpus == "convai2":
        sessions = convai2.read_sessions(root / "convai2_wild_en", part="intermediate", max_annotations=max_annotations)
        prof = convai2.read_profiles(root / "convai2_wild_en", part="intermediate")
        by_session = {sid: {"hobby": profile_hobbies(p), "personality": profile_personality(p)}
                      for sid, p in zip(prof["session_id"], prof["bot_profile"])}

        def label(item: dict) -> dict:
            return by_session.get(item["session_id"], {"hobby": None, "personality": None})
    elif corpus == "cped":
        sessions = cped.read_sessions(root / "cped_zh", split="test", max_annotations=max_annotations)
        traits = cped.read_traits(root / "cped_zh", split="test").unique("agent_id", keep="first")
        extraversion = dict(zip(traits["agent_id"], traits["extraversion"]))
        emotions = cped_emotions(root, "test")

        def label(item: dict) -> dict:
            scene = emotions.get(item["session_id"].split("-")[1], [])
            emotion = scene[item["turn_index"]] if item["turn_index"] < len(scene) else None
            return {"personality": cped_personality(extraversion.get(item["agent_id"])), **_emotion_cells(emotion)}
    elif corpus == "dailydialog":
        sessions = dailydialog.read_sessions(root / "dailydialog_en", split="test", max_annotations=max_annotations)
        emotions = dailydialog_emotions(root, "test")

        def label(item: dict) -> dict:
            dialogue = emotions[int(item["session_id"].rsplit("-", 1)[1])]
            return _emotion_cells(dialogue[item["turn_index"]] if item["turn_index"] < len(dialogue) else None)
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
    items = items.head(n_items)
    rows = [{**{k: it[k] for k in (*KEYS, "agent_id")}, **{d: _as_list(v) for d, v in label(it).items()}}
            for it in items.select(*KEYS, "agent_id").iter_rows(named=True)]
    schema = {"session_id": pl.Utf8, "turn_index": pl.Int64, "agent_id": pl.Utf8,
              **{d: pl.List(pl.Utf8) for d in DIMS[corpus]}}
    return items, pl.DataFrame(rows, schema=schema)


def _as_list(value) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value) or None


def _cells(values) -> frozenset | None:
    if values is None:
        return None
    vals = [values] if isinstance(values, str) else list(values)
    return frozenset(v for v in vals if v) or None


def evaluate(corpus: str, extractions: pl.DataFrame, labels: pl.DataFrame) -> dict:
    """Per dimension the example-level report (encoder, majority, always null) and the unit-level
    share of labelled sessions/agents any extraction recovered."""
    unit = UNIT[corpus]
    joined = extractions.join(labels.drop("agent_id"), on=list(KEYS), how="left", suffix="_true")
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
        rep["agent_recovered"] = {"k": sum(labelled), "n": len(labelled), "ci": rate_ci(sum(labelled), len(labelled))}
        out["dimensions"][d] = rep
    return out
