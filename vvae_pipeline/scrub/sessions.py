"""Scrub raw session tables: subsample very active agents, then replace PII with placeholders.

``scrub_sessions(raw, params)`` takes a schemas.RawSession frame and returns a
schemas.ScrubbedSession frame (display names dropped, ``pii_found`` per session) and a stats dict
of counts only: no text, no values, so stats can go straight into Dagster metadata and logs.
"""

from __future__ import annotations

import gc
import random
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache

import polars as pl

from vvae_pipeline.schemas import ScrubbedSession, polars_schema
from vvae_pipeline.scrub.engine import Scrubber, canonical_value
from vvae_pipeline.scrub.entities import ENTITIES, ScrubParams
from vvae_pipeline.scrub.names import name_variants, names_hint, names_pattern
from vvae_pipeline.scrub.pseudonyms import DEV_KEY, pseudonymize

SCRUBBED_COLUMNS = polars_schema(ScrubbedSession)


def subsample_agents(raw: pl.DataFrame, max_per_agent: int, seed: int) -> pl.DataFrame:
    """At most ``max_per_agent`` sessions per agent, chosen by a seeded shuffle of session ids."""
    if max_per_agent < 1:
        raise ValueError(f"max_sessions_per_agent must be >= 1, got {max_per_agent}")
    counts = raw.group_by("agent_id").len()
    busy = set(counts.filter(pl.col("len") > max_per_agent)["agent_id"].to_list())
    if not busy:
        return raw
    keep: set[str] = set()
    for agent in sorted(busy):
        ids = sorted(raw.filter(pl.col("agent_id") == agent)["session_id"].to_list())
        # One RNG per agent seeded by (seed, agent): adding another agent changes no one else's sample.
        keep.update(random.Random(f"{seed}:{agent}").sample(ids, max_per_agent))
    return raw.filter(~pl.col("agent_id").is_in(list(busy)) | pl.col("session_id").is_in(list(keep)))


@lru_cache(maxsize=4096)
def _names(names: tuple[str | None, ...]):
    aliases = {}
    for full in names:
        for v in name_variants(full):
            aliases[canonical_value("NAME", v)] = canonical_value("NAME", full)
    return names_pattern(names), names_hint(names), aliases


def _session_names(row: dict, params: ScrubParams) -> tuple[str | None, ...]:
    names = (row.get("user_name"),) + ((row.get("agent_name"),) if params.scrub_agent_names else ())
    return tuple(n for n in names if n)


def _keep_agent_names(agent_names: list, texts: list[str], starts: list[int], findings: list[list]) -> None:
    """With ``scrub_agent_names`` off, a NAME finding that is the session's own agent display name
    (any of its variants) is dropped, whichever recognizer made it: the cue-free given-name and zh
    surname detectors flag "Iris here." or 老陈 like any third party's name."""
    for r, agent in enumerate(agent_names):
        kept = {v.casefold() for v in name_variants(agent)}
        if not kept:
            continue
        for k in range(starts[r], starts[r + 1]):
            if findings[k]:
                findings[k] = [f for f in findings[k]
                               if not (f.entity == "NAME" and texts[k][f.start:f.end].casefold() in kept)]


def scrub_sessions(raw: pl.DataFrame, params: ScrubParams | None = None,
                   scrubber: Scrubber | None = None, id_key: str = DEV_KEY) -> tuple[pl.DataFrame, dict]:
    """``id_key``: the HMAC key of the user/agent/session pseudonyms (pseudonyms.py)."""
    with gc_paused():
        scrubbed, stats = _scrub_sessions(raw, params or ScrubParams(), scrubber)
    return pseudonymize(scrubbed, id_key), stats


@contextmanager
def gc_paused():
    """Pause the cyclic GC: building ~10 small objects per utterance (no cycles) otherwise triggers
    full collections over every live row, ~15% of scrub time at 100k utterances (measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _flat_texts(df: pl.DataFrame) -> tuple[list[str], list[int], list[int]]:
    """Every text of every session, row by row (turns, then rewrites), with per-row counts."""
    n_turns = df["turns"].list.len().to_list()
    per_row = df.select(pl.concat_list(
        pl.col("turns").list.eval(pl.element().struct.field("text")),
        pl.col("annotations").list.eval(pl.element().struct.field("rewritten_text")),
    )).to_series()
    return per_row.explode().to_list() if df.height else [], per_row.list.len().to_list(), n_turns


def _with_texts(df: pl.DataFrame, column: str, field: str, texts: list[str]) -> pl.Series:
    """``column`` (a list of structs) with ``field`` replaced, in order, by ``texts``."""
    flat = df.select(pl.int_range(pl.len()).alias("_r"), column).explode(column)
    flat = flat.filter(pl.col(column).is_not_null())  # an empty list explodes to one null
    flat = flat.with_columns(pl.col(column).struct.with_fields(pl.Series(field, texts, dtype=pl.Utf8)))
    lists = flat.group_by("_r", maintain_order=True).agg(column)
    out = df.select(pl.int_range(pl.len()).alias("_r")).join(lists, on="_r", how="left", maintain_order="left")
    return out[column].fill_null(pl.lit([], dtype=df.schema[column]))


def _scrub_sessions(raw: pl.DataFrame, params: ScrubParams, scrubber: Scrubber | None) -> tuple[pl.DataFrame, dict]:
    if scrubber is None:
        from vvae_pipeline.scrub.ner import ner_recognizers

        scrubber = Scrubber(ner=ner_recognizers(params.ner_model_path))
    sampled = subsample_agents(raw, params.max_sessions_per_agent, params.seed)
    texts, counts, n_turns = _flat_texts(sampled)
    starts = [0]
    for n in counts:
        starts.append(starts[-1] + n)
    names = [_names(_session_names(row, params)) for row in
             sampled.select("user_name", "agent_name").iter_rows(named=True)]  # (pattern, hint, aliases)
    findings: list[list] = [[] for _ in texts]
    for lang in ("en", "zh"):
        rows = [r for r, lg in enumerate(sampled["language"].to_list()) if lg == lang]
        idx = [k for r in rows for k in range(starts[r], starts[r + 1])]
        pats = [names[r][0] for r in rows for _ in range(counts[r])]
        hints = [names[r][1] for r in rows for _ in range(counts[r])]
        for k, f in zip(idx, scrubber.find([texts[k] for k in idx], lang, pats, hints)):
            findings[k] = f
    if not params.scrub_agent_names:
        _keep_agent_names(sampled["agent_name"].to_list(), texts, starts, findings)

    by_type: Counter = Counter()
    spans: list = [()] * len(texts)
    pii_per_row = []
    for r in range(sampled.height):
        a, b = starts[r], starts[r + 1]
        if not any(findings[a:b]):
            pii_per_row.append(0)
            continue
        own, found = scrubber.placeholders(texts[a:b], findings[a:b], names[r][2])
        spans[a:b] = own
        by_type.update(found)
        pii_per_row.append(sum(found.values()))
    new = scrubber.replace(texts, spans)
    profiles = _scrub_profiles(sampled, scrubber, names, by_type, pii_per_row)
    turn_texts = [new[k] for r in range(sampled.height) for k in range(starts[r], starts[r] + n_turns[r])]
    ann_texts = [new[k] for r in range(sampled.height) for k in range(starts[r] + n_turns[r], starts[r + 1])]
    scrubbed = sampled.select(
        "batch_id", "source_file", "source_line", "session_id", "agent_id", "user_id", "language",
        pl.lit(_with_texts(sampled, "turns", "text", turn_texts)).alias("turns"),
        pl.lit(_with_texts(sampled, "annotations", "rewritten_text", ann_texts)).alias("annotations"),
        "x_source", pl.Series("agent_profile", profiles, dtype=pl.Utf8),
        pl.Series("pii_found", pii_per_row, dtype=pl.Int64),
    ) if sampled.height else pl.DataFrame(schema=SCRUBBED_COLUMNS)
    stats = {
        "sessions_in": raw.height, "sessions_dropped_by_cap": raw.height - sampled.height,
        "sessions_out": scrubbed.height, "utterances": len(texts),
        "utterances_with_pii": sum(1 for f in findings if f), "pii_total": sum(by_type.values()),
        "pii_by_type": {e: by_type.get(e, 0) for e in ENTITIES},
    }
    return scrubbed, stats


def _scrub_profiles(sampled: pl.DataFrame, scrubber: Scrubber, names: list, by_type: Counter,
                    pii_per_row: list[int]) -> list[str | None]:
    """Each session's declared agent_profile (JSON) with its values scrubbed like its turns; the
    entities found are added to ``by_type`` and the session's ``pii_per_row``."""
    import json

    rows = list(sampled.select("agent_profile", "language").iter_rows())
    profiles = {r: json.loads(raw) for r, (raw, _lang) in enumerate(rows) if raw is not None}
    # One find call per language over every profile value (one per session cost a compiled prefilter
    # regex and an analyzer call each: 4.1 of 6.2 s scrubbing 1,800 demo sessions, measured here).
    found_by_row: dict[int, list] = {}
    for lang in {rows[r][1] for r in profiles}:
        todo = [r for r in profiles if rows[r][1] == lang]
        vals = [v for r in todo for v in profiles[r].values()]
        pats = [names[r][0] for r in todo for _ in profiles[r]]
        hints = [names[r][1] for r in todo for _ in profiles[r]]
        found = iter(scrubber.find(vals, lang, pats, hints))
        for r in todo:
            found_by_row[r] = [next(found) for _ in profiles[r]]
    out: list[str | None] = []
    for r in range(len(rows)):
        if r not in profiles:
            out.append(None)
            continue
        profile = profiles[r]
        dims, vals = list(profile), list(profile.values())
        found_spans = found_by_row[r]
        if any(found_spans):
            own, found = scrubber.placeholders(vals, found_spans, names[r][2])
            vals = scrubber.replace(vals, own)
            by_type.update(found)
            pii_per_row[r] += sum(found.values())
        out.append(json.dumps(dict(zip(dims, vals, strict=True)), ensure_ascii=False))
    return out


def residual_pii(scrubbed: pl.DataFrame, raw_names: dict[str, tuple[str, ...]] | None = None) -> dict[str, int]:
    """What the independent detector (residual.py, built differently from the scrubber) still
    finds in scrubbed text, by type (all zero when clean).

    ``raw_names`` (scrubbed session_id -> display names from raw_sessions) adds each session's
    own participant names, which the scrubbed table no longer carries.
    """
    import json

    from vvae_pipeline.scrub.residual import detect_many

    raw_names = raw_names or {}
    left: Counter = Counter()
    for lang in ("en", "zh"):
        part = scrubbed.filter(pl.col("language") == lang)
        texts, names = [], []
        for row in part.select("session_id", "turns", "annotations", "agent_profile").iter_rows(named=True):
            own = [t["text"] for t in row["turns"]] + [a["rewritten_text"] for a in row["annotations"]]
            own += list(json.loads(row["agent_profile"]).values()) if row["agent_profile"] else []
            texts.extend(own)
            names.extend([tuple(raw_names.get(row["session_id"], ()))] * len(own))
        left += detect_many(texts, lang, names)
    return {e: left.get(e, 0) for e in ENTITIES}
