"""Scrub parameters and entity vocabulary: importing this module loads no Presidio (about 6 s of
CPU on these machines), so the Dagster layer can build its Config without paying for it."""

from __future__ import annotations

from dataclasses import dataclass

ENTITIES = ("EMAIL", "PHONE", "CN_ID", "BANK_CARD", "PASSPORT", "URL", "IP", "HANDLE", "ADDRESS", "US_SSN", "UK_NHS",
            "UK_NINO", "IBAN", "NAME")
STRUCTURED = tuple(e for e in ENTITIES if e != "NAME")


@dataclass(frozen=True)
class ScrubParams:
    # The paper subsamples highly active agents so a few personas do not dominate the priors;
    # 200 sessions x ~8 turns = ~1,600 utterances per agent per batch at most.
    max_sessions_per_agent: int = 200
    seed: int = 0
    # Agent display names are persona names ("Luna"); scrubbing them too keeps real operators'
    # names out, at the cost of the persona's name in its own lines.
    scrub_agent_names: bool = True
