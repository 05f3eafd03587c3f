"""One regex rule of a pattern recognizer (shared by recognizers.py and addresses.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    pattern: str
    score: float
    group: int = 0  # the capture group that is the PII (0: the whole match)
    validate: Callable[[str], bool] | None = None
    flags: int = 0
    # A regex every match contains: the rule then runs only on the utterances (SEP-separated
    # segments of the analyzed text) where it occurs. zh address rules try a match at every CJK
    # character, ~0.4 s per 500k characters of chat; gated, a few ms (measured).
    gate: str | None = None
