"""Scrub raw session tables: subsample very active agents, then replace PII with placeholders.

``scrub_sessions(raw, params)`` takes a schemas.RawSession frame and returns a
schemas.ScrubbedSession frame (display names dropped, ``pii_found`` per session) and a stats dict
of counts only: no text, no values, so stats can go straight into Dagster metadata and logs.
"""

from __future__ import annotations

import random
from collections import Counter
from functools import lru_cache

import polars as pl

from vvae_pipeline.schemas import ANNOTATION, TURN
from vvae_pipeline.scrub.engine import Scrubber, canonical_value
from vvae_pipeline.scrub.names import name_variants, names_pattern
from vvae_pipeline.scrub.params import ENTITIES, ScrubParams


SCRUBBED_COLUMNS = {
    "batch_id": pl.Utf8, "source_file": pl.Utf8, "source_line": pl.Int64, "session_id": pl.Utf8,
    "agent_id": pl.Utf8, "user_id": pl.Utf8, "language": pl.Utf8, "turns": pl.List(TURN),
    "annotations": pl.List(ANNOTATION), "x_source": pl.Utf8, "pii_found": pl.Int64,
}


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
    return names_pattern(list(names)), aliases


def _session_names(row: dict, params: ScrubParams) -> tuple[str | None, ...]:
    names = (row.get("user_name"),) + ((row.get("agent_name"),) if params.scrub_agent_names else ())
    return tuple(n for n in names if n)


def scrub_sessions(raw: pl.DataFrame, params: ScrubParams = ScrubParams(),
                   scrubber: Scrubber | None = None) -> tuple[pl.DataFrame, dict]:
    scrubber = scrubber or Scrubber()
    sampled = subsample_agents(raw, params.max_sessions_per_agent, params.seed)
    rows = sampled.to_dicts()
    texts: dict[str, list[str]] = {"en": [], "zh": []}
    patterns: dict[str, list] = {"en": [], "zh": []}
    where: list[tuple[str, int, int]] = []  # per row: language, first text index, number of texts
    for row in rows:
        lang = row["language"]
        own = [t["text"] for t in row["turns"]] + [a["rewritten_text"] for a in row["annotations"]]
        rx, _ = _names(_session_names(row, params))
        where.append((lang, len(texts[lang]), len(own)))
        texts[lang].extend(own)
        patterns[lang].extend([rx] * len(own))
    findings = {lang: scrubber.find(texts[lang], lang, patterns[lang]) for lang in texts}

    by_type: Counter = Counter()
    utterances_with_pii = 0
    out = []
    for row, (lang, first, n) in zip(rows, where):
        fs = findings[lang][first:first + n]
        _, aliases = _names(_session_names(row, params))
        new, counts = scrubber.anonymize(texts[lang][first:first + n], fs, aliases)
        by_type.update(counts)
        utterances_with_pii += sum(1 for f in fs if f)
        k = len(row["turns"])
        out.append({
            **{c: row[c] for c in ("batch_id", "source_file", "source_line", "session_id", "agent_id", "user_id",
                                   "language", "x_source")},
            "turns": [{**t, "text": x} for t, x in zip(row["turns"], new[:k])],
            "annotations": [{**a, "rewritten_text": x} for a, x in zip(row["annotations"], new[k:])],
            "pii_found": sum(counts.values()),
        })
    scrubbed = pl.DataFrame(out, schema=SCRUBBED_COLUMNS)
    stats = {
        "sessions_in": raw.height, "sessions_dropped_by_cap": raw.height - sampled.height,
        "sessions_out": scrubbed.height, "utterances": sum(len(v) for v in texts.values()),
        "utterances_with_pii": utterances_with_pii, "pii_total": sum(by_type.values()),
        "pii_by_type": {e: by_type.get(e, 0) for e in ENTITIES},
    }
    return scrubbed, stats


def residual_pii(scrubbed: pl.DataFrame, raw_names: dict[str, tuple[str, ...]] | None = None,
                 scrubber: Scrubber | None = None) -> dict[str, int]:
    """Entities the detectors still find in scrubbed text, by type (all zero when clean).

    ``raw_names`` (session_id -> display names from raw_sessions) adds each session's own
    participant names, which the scrubbed table no longer carries.
    """
    scrubber = scrubber or Scrubber()
    raw_names = raw_names or {}
    left: Counter = Counter()
    for lang in ("en", "zh"):
        part = scrubbed.filter(pl.col("language") == lang)
        texts, patterns = [], []
        for row in part.select("session_id", "turns", "annotations").iter_rows(named=True):
            own = [t["text"] for t in row["turns"]] + [a["rewritten_text"] for a in row["annotations"]]
            rx, _ = _names(tuple(raw_names.get(row["session_id"], ())))
            texts.extend(own)
            patterns.extend([rx] * len(own))
        for fs in scrubber.find(texts, lang, patterns):
            left.update(f.entity for f in fs)
    return {e: left.get(e, 0) for e in ENTITIES}
