"""The structured latent persona space z of V-VAE.

Three axes, nine dimensions. Each dimension is either open (any short string that the
text shows) or closed (one of a fixed value set, as in the paper). Every dimension may be
null: the text does not show it. Adding a dimension is one line in ``DIMENSIONS``.

Everything else (JSON Schema, normalisation, table columns, prompt fields) is derived
from ``DIMENSIONS`` so that there is exactly one place to change.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

TALKING_STYLE = "talking_style"
INTERACTION = "interaction"
PERSONAL = "personal"
AXES: tuple[str, ...] = (TALKING_STYLE, INTERACTION, PERSONAL)


@dataclass(frozen=True)
class Dimension:
    name: str
    axis: str
    description: str
    # None for open dimensions; a closed dimension's values are canonical lower-case.
    values: tuple[str, ...] | None = None
    # Grounded dimensions must literally occur in the agent's own text.
    grounded: bool = False
    # Longest value accepted for open dimensions (characters), keeps decoding bounded.
    max_len: int = 40
    synonyms: dict[str, str] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.values is not None


RELATIONSHIPS = (
    "stranger", "acquaintance", "friend", "close_friend", "lover",
    "family", "colleague", "classmate", "mentor", "enemy",
)
TONES = (
    "cheerful", "gentle", "playful", "sarcastic", "calm", "enthusiastic",
    "formal", "casual", "cold", "humorous",
)
VIBES = (
    "warm", "playful", "flirty", "supportive", "teasing", "tense",
    "melancholic", "neutral",
)
PERSONALITIES = (
    "outgoing", "introverted", "caring", "humorous", "optimistic",
    "pessimistic", "stubborn", "shy", "confident", "tsundere",
)

DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("catchphrase", TALKING_STYLE, "a phrase the speaker habitually repeats", grounded=True),
    Dimension("emoji", TALKING_STYLE, "the emoji the speaker habitually uses", grounded=True, max_len=16),
    Dimension("tone", TALKING_STYLE, "overall tone of voice", values=TONES,
              synonyms={"happy": "cheerful", "soft": "gentle", "funny": "humorous", "sarcasm": "sarcastic",
                        "excited": "enthusiastic", "relaxed": "casual", "polite": "formal", "cool": "cold"}),
    Dimension("nickname", INTERACTION, "what the speaker calls the other person", grounded=True),
    Dimension("relationship", INTERACTION, "relationship between the two speakers", values=RELATIONSHIPS,
              synonyms={"girlfriend": "lover", "boyfriend": "lover", "partner": "lover", "couple": "lover",
                        "best_friend": "close_friend", "bestie": "close_friend", "coworker": "colleague",
                        "co_worker": "colleague", "teacher": "mentor", "sibling": "family", "parent": "family"}),
    Dimension("vibe", INTERACTION, "emotional atmosphere of the exchange", values=VIBES,
              synonyms={"romantic": "flirty", "friendly": "warm", "sad": "melancholic", "fun": "playful",
                        "caring": "supportive", "awkward": "tense"}),
    Dimension("topic", INTERACTION, "what the conversation is about", max_len=40),
    Dimension("personality", PERSONAL, "the speaker's personality", values=PERSONALITIES,
              synonyms={"extroverted": "outgoing", "extrovert": "outgoing", "introvert": "introverted",
                        "kind": "caring", "funny": "humorous", "positive": "optimistic", "timid": "shy"}),
    Dimension("hobby", PERSONAL, "a hobby the speaker has", max_len=40),
)

DIMENSION_NAMES: tuple[str, ...] = tuple(d.name for d in DIMENSIONS)
BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}


def dimensions_of(axis: str) -> tuple[str, ...]:
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; expected one of {AXES}")
    return tuple(d.name for d in DIMENSIONS if d.axis == axis)


_SPACE = re.compile(r"\s+")


def _canonical_emoji(value: str) -> str:
    import emoji

    # :shortcodes: -> glyphs; drop variation selectors so "❤️" and "❤" are one value.
    glyphs = emoji.emojize(value, language="alias")
    found = [m["emoji"] for m in emoji.emoji_list(glyphs)]
    if not found:
        return ""
    return found[0].replace("\ufe0f", "")


def normalize(dimension: str, value: object) -> str | None:
    """Canonical form of one value, or None when it is empty or outside a closed set."""
    if value is None:
        return None
    dim = BY_NAME[dimension]
    text = unicodedata.normalize("NFKC", str(value))
    text = _SPACE.sub(" ", text).strip().strip("\"'“”‘’").strip()
    if not text or text.lower() in {"null", "none", "n/a", "unknown", "无", "空"}:
        return None
    if dimension == "emoji":
        return _canonical_emoji(text) or None
    if dim.closed:
        key = text.lower().replace(" ", "_").replace("-", "_")
        key = dim.synonyms.get(key, key)
        return key if key in dim.values else None
    if len(text) > dim.max_len:
        return None
    # Open values keep their script; Latin text is compared case-insensitively.
    return text.lower() if text.isascii() else text


def json_schema(candidates: dict[str, list[str]] | None = None) -> dict:
    """JSON Schema of one persona z.

    With ``candidates``, the dimensions they name are restricted to the given values (plus null):
    small encoders then choose among spans found in the text instead of inventing junk, and a
    closed dimension can be narrowed to the values its evidence supports.
    """
    props: dict[str, dict] = {}
    for dim in DIMENSIONS:
        if candidates is not None and dim.name in candidates:
            # A closed dimension may be narrowed to the values its evidence allows, never widened.
            choices: list | None = [v for v in dict.fromkeys(candidates[dim.name]) if not dim.closed or v in dim.values]
        elif dim.closed:
            choices = list(dim.values)
        else:
            choices = None
        if choices is not None:
            props[dim.name] = {"enum": [*choices, None]}
        else:
            props[dim.name] = {"anyOf": [{"type": "string", "maxLength": dim.max_len}, {"type": "null"}]}
    return {
        "type": "object",
        "properties": props,
        "required": list(DIMENSION_NAMES),
        "additionalProperties": False,
    }
