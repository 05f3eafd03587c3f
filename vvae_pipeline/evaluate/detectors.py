"""HumanChatBench-style persona detectors: CP (catchphrase), EC (emoji), HM (hobby mention).

Each detector answers one question about one reply given one persona reference, for zh and en:

- CP: does the persona's catchphrase occur in the reply? Both sides are normalised (NFKC,
  case-folded, curly quotes and whitespace unified, punctuation dropped); English matches on
  word boundaries ("just saying" does not fire inside "adjust sayings"), Chinese as a substring.
- EC: does the reply contain the persona's emoji? Emoji are found with the ``emoji`` package
  after turning ``:shortcodes:`` into glyphs, and compared in canonical form (variation selector
  U+FE0F and skin-tone modifiers removed), so "❤️", "❤" and ":heart:" are one emoji.
- HM: is the persona's hobby mentioned? English uses a small stemmer (plural -s/-es/-ies,
  -ing, -er/-ers, doubled consonants, silent e) so "hiking" matches "hike", "hikes", "hiker";
  every content word of the hobby must occur (light verbs such as "play" are dropped when the
  hobby has another word: "playing guitar" fires on "my guitar"). Chinese is a substring test
  after dropping a leading light verb when two or more characters remain ("打羽毛球" fires on
  "羽毛球"). A hobby with alternatives ("hiking and camping", "钓鱼、画画") fires on any of them.

``rates`` turns per-reply detections into rates over all replies: a reply whose persona lacks a
dimension counts as not detected, so model rates and the human rate share one denominator.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from vvae_pipeline.latent import normalize

DETECTORS = ("cp", "ec", "hm")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "`": "'"})
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Fitzpatrick skin tones U+1F3FB..U+1F3FF and the emoji variation selector U+FE0F.
_EMOJI_MODIFIERS = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f]")
_EN_STOP = frozenset("a an the of to in on at for with and or my your his her their our i me my".split())
_EN_LIGHT_WORDS = ("play", "do", "go", "make", "have")
_ZH_LIGHT = ("打", "玩", "看", "听", "弹", "踢", "做", "去", "逛", "练")
_ALTERNATIVES = re.compile(r"\s*(?:,|;|/|、|，|；|\band\b|\bor\b|和|或)\s*")


def _is_zh(text: str) -> bool:
    return bool(_CJK.search(text))


def normalise_text(text: str) -> str:
    """NFKC, case-folded, quotes unified, punctuation to spaces (emoji are removed too)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    kept = [ch if (ch.isalnum() or ch in "' " or _CJK.match(ch)) else " " for ch in text]
    return _SPACE.sub(" ", "".join(kept)).strip()


# -- CP -------------------------------------------------------------------------------------


def has_catchphrase(reply: str, catchphrase: str | None) -> bool:
    if not catchphrase:
        return False
    needle = normalise_text(catchphrase)
    if not needle:
        return False
    hay = normalise_text(reply)
    if _is_zh(needle):
        return needle.replace(" ", "") in hay.replace(" ", "")
    return re.search(rf"(?<![a-z0-9']){re.escape(needle)}(?![a-z0-9'])", hay) is not None


# -- EC -------------------------------------------------------------------------------------


def canonical_emoji(glyph: str) -> str:
    return _EMOJI_MODIFIERS.sub("", glyph)


def emojis_in(text: str) -> list[str]:
    """Every emoji in ``text`` in canonical form, in order (shortcodes count as emoji)."""
    import emoji

    glyphs = emoji.emojize(unicodedata.normalize("NFC", text), language="alias")
    return [canonical_emoji(m["emoji"]) for m in emoji.emoji_list(glyphs)]


def has_emoji(reply: str, persona_emoji: str | None) -> bool:
    if not persona_emoji:
        return False
    wanted = normalize("emoji", persona_emoji)
    if not wanted:
        return False
    return canonical_emoji(wanted) in emojis_in(reply)


# -- HM -------------------------------------------------------------------------------------


def stem(word: str) -> str:
    """A deliberately small English stemmer: enough for hobby nouns and gerunds."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-2]  # hobbies -> hobbi, movies -> movi (final y/ie fold to i below)
    elif len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ers", "er"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "aeiouls":
                w = w[:-1]  # running -> runn -> run; but "skiing", "ballers" stay sane
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]  # hike/hiking/hiker all -> hik
    if len(w) > 2 and w.endswith("y"):
        w = w[:-1] + "i"  # hobby/hobbies -> hobbi
    return w


def _hobby_terms_en(hobby: str) -> list[str]:
    words = [w for w in _WORD.findall(normalise_text(hobby)) if w not in _EN_STOP]
    stems = [stem(w) for w in words]
    light = {stem(w) for w in _EN_LIGHT_WORDS}
    content = [s for s in stems if s not in light]
    return content or stems


def _hobby_terms_zh(hobby: str) -> str:
    text = normalise_text(hobby).replace(" ", "")
    if text.startswith(_ZH_LIGHT) and len(text) >= 3:
        return text[1:]
    return text


def has_hobby(reply: str, hobby: str | None) -> bool:
    if not hobby:
        return False
    alternatives = [a for a in _ALTERNATIVES.split(normalise_text(hobby)) if a.strip()]
    hay = normalise_text(reply)
    hay_zh = hay.replace(" ", "")
    hay_stems = {stem(w) for w in _WORD.findall(hay)}
    for alt in alternatives:
        if _is_zh(alt):
            term = _hobby_terms_zh(alt)
            if term and term in hay_zh:
                return True
        else:
            terms = _hobby_terms_en(alt)
            if terms and all(t in hay_stems for t in terms):
                return True
    return False


# -- rates ----------------------------------------------------------------------------------


def detect(reply: str, persona: Mapping[str, object]) -> dict[str, bool]:
    """CP/EC/HM for one reply against one persona reference (keys catchphrase, emoji, hobby)."""
    return {
        "cp": has_catchphrase(reply, _str(persona.get("catchphrase"))),
        "ec": has_emoji(reply, _str(persona.get("emoji"))),
        "hm": has_hobby(reply, _str(persona.get("hobby"))),
    }


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def rates(outputs: Sequence[str], personas: Sequence[Mapping[str, object]]) -> dict:
    """Detection rates over all outputs: {"n", "cp", "ec", "hm", "n_with": {dim: count}}."""
    if len(outputs) != len(personas):
        raise ValueError(f"{len(outputs)} outputs but {len(personas)} personas: they must pair up one to one")
    hits = {d: 0 for d in DETECTORS}
    with_ref = {"cp": 0, "ec": 0, "hm": 0}
    for reply, persona in zip(outputs, personas, strict=True):
        for d, hit in detect(reply or "", persona).items():
            hits[d] += int(hit)
        for d, key in (("cp", "catchphrase"), ("ec", "emoji"), ("hm", "hobby")):
            with_ref[d] += int(bool(persona.get(key)))
    n = len(outputs)
    out: dict = {"n": n, "n_with": with_ref}
    for d in DETECTORS:
        out[d] = hits[d] / n if n else 0.0
    return out


def distance(r: Mapping[str, float], target: Mapping[str, float]) -> float:
    """Euclidean distance of (CP, EC, HM) to the target rates, in rate units (0..sqrt(3))."""
    return sum((float(r[d]) - float(target[d])) ** 2 for d in DETECTORS) ** 0.5


def reference_personas(sft) -> dict[str, dict[str, str | None]]:
    """Per agent, the most frequent *observed* value of every dimension across the SFT frame.

    This is the persona reference the detectors check against, the same for the human replies
    and for every model's outputs, so all rates are comparable. Only values whose ``origins``
    entry says "observed" count (sampled priors and dropped axes say nothing about the agent);
    each extraction counts once even though every variant repeats it. Ties go to the value that
    sorts first, so the reference is deterministic.
    """
    import json

    import polars as pl

    from vvae_pipeline.latent import DIMENSION_NAMES

    rows = sft.select(["agent_id", "extraction_id", "origins", *DIMENSION_NAMES]).unique(
        subset=["extraction_id", "origins"], maintain_order=True
    )
    records = []
    for r in rows.iter_rows(named=True):
        try:
            origins = json.loads(r["origins"] or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"extraction {r['extraction_id']}: origins is not JSON ({exc.msg})") from None
        for dim in DIMENSION_NAMES:
            if origins.get(dim) == "observed" and r[dim] is not None:
                records.append((r["agent_id"], r["extraction_id"], dim, r[dim]))
    out: dict[str, dict[str, str | None]] = {
        a: dict.fromkeys(DIMENSION_NAMES) for a in sft["agent_id"].unique().to_list()
    }
    if not records:
        return out
    obs = pl.DataFrame(records, schema=["agent_id", "extraction_id", "dimension", "value"], orient="row")
    top = (
        obs.unique(subset=["extraction_id", "dimension"], keep="first", maintain_order=True)
        .group_by(["agent_id", "dimension", "value"]).len()
        .sort(["agent_id", "dimension", "len", "value"], descending=[False, False, True, False])
        .unique(subset=["agent_id", "dimension"], keep="first", maintain_order=True)
    )
    for r in top.iter_rows(named=True):
        out[r["agent_id"]][r["dimension"]] = r["value"]
    return out
