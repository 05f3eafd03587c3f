"""Person-name recognizers that need no NER model.

- ``ParticipantNameRecognizer``: the session's own display names (agent_name, user_name) and
  their parts ("Emily Carter" -> "Emily", "Carter"; "王芳" as a whole, "李小龙" -> "小龙"), one
  compiled regex per session. It scans only its session's segments of the analyzed text, so one
  analyzer call can cover many sessions (the fast path).
- ``GazetteerNameRecognizer``: en given names from vvae_pipeline/data/name_gazetteer.json and
  honorific cues (Mr/Dr + a capitalised word, "my name is X"); zh surnames after a name cue
  (我叫/叫我/名字是/我姓), before an honorific (王老师, 李明先生) or in 老X/小X nicknames.
- Any Presidio recognizer that emits PERSON/PER (a spaCy, stanza or transformers NER when a model
  is available) can be plugged in; its results are mapped to NAME (see engine.py).
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
    clear_sur = "(?:" + compound + "|[" + "".join(c for c in g["zh_surnames"] if c not in g["zh_surnames_ambiguous"]) + "])"
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
            elif word in self.titles and i + 1 < len(tokens) and re.fullmatch(r"\.?[ ]", text[tok.end():tokens[i + 1].start()]):
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
        return spans

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
