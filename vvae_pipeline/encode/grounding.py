"""Parse an encoder's JSON output, check each value against the schema and the text, normalise.

A value survives only if it parses, fits its field (closed enum, candidate list when open fields
are constrained, length bound) and - for grounded dimensions (catchphrase, emoji, nickname) -
literally occurs in the agent's own text. Everything else becomes null with a reason, and grounding
rejections are counted so a run can report how much the encoder invented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES, normalize

# Reasons a dimension is null (the values of the null_reasons JSON column).
NOT_SHOWN = "not_shown"  # the encoder chose null
NOT_GROUNDED = "not_grounded"  # grounded dimension, value absent from the agent's text
OFF_SCHEMA = "off_schema"  # not in the enum / candidate list, or too long
UNNORMALIZABLE = "unnormalizable"  # normalize() mapped it to nothing (e.g. no emoji in an emoji field)
MISSING = "missing"  # key absent from the output object
NO_CANDIDATES = "no_candidates"  # no candidate span / evidence cue in the text: not asked
FAILED = "engine_failed"  # no parseable output at all
NOT_CAPABLE = "engine_not_capable"  # the engine was measured not to answer this dimension (capabilities.py)
PII = "pii"  # the value holds a name, a PII placeholder or structured PII (encode/value_pii.py)


@dataclass
class Parsed:
    values: dict[str, str | None]
    reasons: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)  # dimensions grounding rejected
    ok: bool = True  # False: the output was not a JSON object


def _fold(text: str) -> str:
    # Compare the way normalize() canonicalises: NFKC, case-folded Latin, no emoji variation selector.
    import unicodedata

    return unicodedata.normalize("NFKC", text).replace("\ufe0f", "").lower()


def parse_output(text: str, agent_text: str, candidates: dict[str, list[str]] | None) -> Parsed:
    """Values per dimension (None when null) with a reason for every null.

    ``candidates``: the dimensions whose values were restricted (open fields constrained to spans,
    closed fields narrowed by the abstention rule); a value outside its list is off-schema, and a
    dimension with an empty list was not asked (null, ``no_candidates``)."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        obj = None
    if not isinstance(obj, dict):
        return Parsed({d: None for d in DIMENSION_NAMES}, {d: FAILED for d in DIMENSION_NAMES}, ok=False)
    haystack = _fold(agent_text)
    values: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    rejected: list[str] = []
    for name in DIMENSION_NAMES:
        dim = BY_NAME[name]
        raw = obj.get(name)
        value = None
        if name not in obj:
            asked = candidates is None or name not in candidates or bool(candidates[name])
            reasons[name] = MISSING if asked else NO_CANDIDATES
        elif raw is None:
            reasons[name] = NOT_SHOWN
        elif not isinstance(raw, str) or (not dim.closed and len(raw) > dim.max_len):
            reasons[name] = OFF_SCHEMA
        else:
            value = normalize(name, raw)
            allowed = candidates.get(name) if candidates is not None else None
            if value is None:
                reasons[name] = OFF_SCHEMA if dim.closed else UNNORMALIZABLE
            elif allowed is not None and value not in allowed:
                reasons[name], value = OFF_SCHEMA, None
            elif dim.grounded and _fold(value) not in haystack:
                reasons[name], value = NOT_GROUNDED, None
                rejected.append(name)
        values[name] = value
    return Parsed(values, reasons, rejected)
