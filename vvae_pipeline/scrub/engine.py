"""The scrubber: Presidio's AnalyzerEngine (no spaCy model) + AnonymizerEngine, and a fast path.

Recognizers (``recognizers_for``): regex rules (recognizers.py, addresses.py, identifiers.py), libphonenumber
(phones.py), Presidio's stock recognizers (stock.py: SSN/NHS/NINO/IBAN/cards, UK plates, MAC, URL,
EU IDs; docs/pii_coverage.md), the name gazetteer
and participant names (names.py), jieba for zh names (zh_names.py). Overlapping findings merge
into their union (``resolve_overlaps``), so no flagged character survives.

Naive path (``find_one`` + ``anonymize`` per utterance): one analyzer and one anonymizer call per
utterance, as Presidio is usually driven (~0.2-0.3 ms of fixed cost per call, measured here).
Fast path (``find`` + ``replace``), same recognizers, same results (tests/unit/test_scrub.py):

1. prefilter: an utterance goes to the analyzer only if a cheap necessary condition of some
   recognizer fires on it (hints.py: digits, @, zh address characters, TLDs, name cues, surnames
   ...), or it holds the session's own participant names. Skipping an utterance without hints
   cannot lose a finding. On chat text ~80% of utterances have no hint. All recognizers see
   ``text.fold_fullwidth(text)`` (full-width digits and letters as ASCII, same length);
2. batching: the hinted utterances, joined by the separator U+E000, go through one analyzer call
   per ~``CHUNK_CHARS`` characters; a ``ParticipantNameRecognizer`` knows which session owns which
   span, and results are mapped back per utterance;
3. replacement: placeholders are assigned per session in Python, then one anonymizer call per
   chunk replaces every span (each placeholder is its own entity type with a ``replace`` operator).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from typing import NamedTuple

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
from presidio_analyzer.nlp_engine import NoOpNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonResult

from vvae_pipeline.schemas import LANGUAGES  # noqa: F401 (API)
from vvae_pipeline.scrub import zh_names
from vvae_pipeline.scrub.entities import ENTITIES
from vvae_pipeline.scrub.hints import structured_hint, vector_hint
from vvae_pipeline.scrub.identifiers import identifier_recognizers
from vvae_pipeline.scrub.names import GazetteerNameRecognizer, ParticipantNameRecognizer
from vvae_pipeline.scrub.phones import PhoneNumbersRecognizer
from vvae_pipeline.scrub.recognizers import SEP, structured_recognizers
from vvae_pipeline.scrub.stock import stock_recognizers
from vvae_pipeline.scrub.text import fold_fullwidth
from vvae_pipeline.scrub.zh_names import ZhNameRecognizer

# ~50k characters per analyzer call: ~1,000 chat utterances, a few ms of regex work per chunk.
CHUNK_CHARS = 50_000
# What a plugged-in NER may call a person.
NER_PERSON_TYPES = {"PERSON", "PER", "PERSON_NAME"}
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(ENTITIES) + r")_\d+\]")
_MATCH_ALL = re.compile("")


def recognizers_for(language: str, exclude: tuple[str, ...] = ()) -> list[EntityRecognizer]:
    """Every built-in recognizer of one language; ``exclude`` leaves entity types out (tests use it
    to show that the independent residual check catches what a missing recognizer leaves)."""
    recs = [*structured_recognizers(language), *identifier_recognizers(language), PhoneNumbersRecognizer(language),
            *stock_recognizers(language), GazetteerNameRecognizer(language), ZhNameRecognizer(language)]
    return [r for r in recs if not set(r.supported_entities) & set(exclude)]


class Finding(NamedTuple):
    entity: str
    start: int
    end: int
    score: float


class _NoContextEnhancer(ContextAwareEnhancer):
    """The no-op NLP engine yields no lemmas, so Presidio's lemma enhancer could only deep-copy
    every result (~15% of analyzer time, measured); this one returns the results as they are."""

    def __init__(self):
        super().__init__(context_similarity_factor=0.0, min_score_with_context_similarity=0.0,
                         context_prefix_count=0, context_suffix_count=0)

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        return raw_results


class _Analyzer(AnalyzerEngine):
    """Presidio's AnalyzerEngine less its per-recognizer context pass when no recognizer has one:
    that pass splits the results once per recognizer (O(recognizers x results): 0.34 of 4.6 s of
    scrub_sessions on 3,000 demo sessions with ~45 recognizers, measured) to hand each recognizer
    its own results, and the base ``enhance_using_context`` gives them back unchanged."""

    def _enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        if all(type(r).enhance_using_context is EntityRecognizer.enhance_using_context for r in recognizers):
            return self.context_aware_enhancer.enhance_using_context(
                text=text, raw_results=raw_results, nlp_artifacts=nlp_artifacts, recognizers=recognizers,
                context=context)
        return super()._enhance_using_context(text, raw_results, nlp_artifacts, recognizers, context)


def _entity(t: str) -> str | None:
    if t in ENTITIES:
        return t
    return "NAME" if t in NER_PERSON_TYPES else None


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """One finding per group of overlapping spans, in text order: the union of the group's spans
    (no character any recognizer flagged survives), typed as its longest member (ties: score)."""
    out: list[Finding] = []
    group: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if group and f.start >= max(g.end for g in group):
            out.append(_merge(group))
            group = []
        group.append(f)
    if group:
        out.append(_merge(group))
    return out


def _merge(group: list[Finding]) -> Finding:
    if len(group) == 1:
        return group[0]
    best = max(group, key=lambda f: (f.end - f.start, f.score))
    return Finding(best.entity, min(f.start for f in group), max(f.end for f in group), best.score)


def canonical_value(entity: str, text: str) -> str:
    """The identity of a value, so "+86 138-1234-5678" and "13812345678" get one placeholder."""
    if entity in ("PHONE", "BANK_CARD", "CN_ID", "IP"):
        digits = re.sub(r"[^0-9A-Fa-fXx:.]" if entity == "IP" else r"[^0-9Xx]", "", text).upper()
        return digits[-10:] if entity == "PHONE" else digits
    return re.sub(r"\s+", "", text).casefold()


class Scrubber:
    """Owns one analyzer and one anonymizer (build once, reuse for every batch)."""

    def __init__(self, ner: list[EntityRecognizer] | None = None, chunk_chars: int = CHUNK_CHARS,
                 prefilter: bool = True, exclude: tuple[str, ...] = ()):
        nlp = NoOpNlpEngine(models=[{"lang_code": lang, "model_name": "none"} for lang in LANGUAGES])
        nlp.load()
        registry = RecognizerRegistry(supported_languages=list(LANGUAGES))
        self.gazetteer = {}
        for lang in LANGUAGES:
            for rec in recognizers_for(lang, exclude):
                registry.add_recognizer(rec)
                if isinstance(rec, GazetteerNameRecognizer):
                    self.gazetteer[lang] = rec
        self.gazetteer = self.gazetteer or {lang: GazetteerNameRecognizer(lang) for lang in LANGUAGES}
        for rec in ner or []:  # the pluggable NER: any Presidio recognizer emitting PERSON/NAME
            registry.add_recognizer(rec)
        self.analyzer = _Analyzer(registry=registry, nlp_engine=nlp, supported_languages=list(LANGUAGES),
                                  context_aware_enhancer=_NoContextEnhancer())
        self.anonymizer = AnonymizerEngine()
        self.chunk_chars = chunk_chars
        # A plugged-in NER has triggers the prefilter cannot know: then every utterance is analyzed.
        self.prefilter = prefilter and not ner
        self.vector_hint = vector_hint(self.gazetteer["en"], zh_names.hint())

    # ------------------------------------------------------------ detection
    def _analyze(self, text: str, language: str, segments) -> list:
        return self.analyzer.analyze(text, language=language,
                                     ad_hoc_recognizers=[ParticipantNameRecognizer(segments, language)])

    def may_contain_pii(self, text: str, language: str, names: re.Pattern | None) -> bool:
        """False only if no recognizer can match: ``names`` is the session's participant-name
        hint (names.names_hint: lower-case literals, no boundaries, a superset of the recognizer)."""
        text = fold_fullwidth(text)
        low = text.lower()
        return bool(structured_hint(text, low) or (names is not None and names.search(low))
                    or self.gazetteer[language].may_match(text, low) or zh_names.hint().search(text))

    def _hinted(self, texts: list[str], hints: list[re.Pattern | None]) -> list[int]:
        """Indices of texts that may hold PII: one vectorised regex (polars, Rust) over all texts
        for the structured and gazetteer hints, then the session's own names in Python."""
        import polars as pl

        flags = pl.Series(texts, dtype=pl.Utf8).str.contains(self.vector_hint).to_list()
        return [k for k, (t, f) in enumerate(zip(texts, flags))
                if f or (hints[k] is not None and hints[k].search(t.lower()))]

    def find_one(self, text: str, language: str, names: re.Pattern | None = None) -> list[Finding]:
        """Naive path: one analyzer call for one utterance, no prefilter."""
        text = fold_fullwidth(text)
        found = [Finding(e, r.start, r.end, r.score) for r in self._analyze(text, language, [(0, len(text), names)])
                 if (e := _entity(r.entity_type))]
        return resolve_overlaps(found)

    def find(self, texts: list[str], language: str, names: list[re.Pattern | None],
             hints: list[re.Pattern | None] | None = None) -> list[list[Finding]]:
        """Fast path: findings per text. ``names[i]`` is text i's participant-name pattern
        (names.names_pattern) and ``hints[i]`` its prefilter twin (names.names_hint); without
        hints every text with participant names is analyzed."""
        out: list[list[Finding]] = [[] for _ in texts]
        texts = [fold_fullwidth(t) for t in texts]  # same length: spans index the caller's texts
        if hints is None:
            hints = [None if rx is None else _MATCH_ALL for rx in names]
        todo = self._hinted(texts, hints) if self.prefilter else range(len(texts))
        for chunk in self._chunks(todo, texts):
            self._find_chunk(texts, language, names, chunk, out)
        return [resolve_overlaps(f) if f else f for f in out]

    def _chunks(self, indices: list[int], texts: list[str]):
        chunk, size = [], 0
        for k in indices:
            if chunk and size + len(texts[k]) >= self.chunk_chars:
                yield chunk
                chunk, size = [], 0
            chunk.append(k)
            size += len(texts[k]) + 1
        if chunk:
            yield chunk

    def _find_chunk(self, texts, language, names, chunk: list[int], out) -> None:
        starts, parts, pos = [], [], 0
        for k in chunk:
            # Same-length replacement keeps offsets: a text's own U+E000 can never fake a boundary.
            parts.append(texts[k].replace(SEP, "\ufffd"))
            starts.append(pos)
            pos += len(texts[k]) + 1
        segments = [(s, s + len(texts[k]), names[k]) for s, k in zip(starts, chunk)]
        for r in self._analyze(SEP.join(parts), language, segments):
            entity = _entity(r.entity_type)
            if entity is None:
                continue
            idx = bisect.bisect_right(starts, r.start) - 1
            base, k = starts[idx], chunk[idx]
            start, end = r.start - base, min(r.end - base, len(texts[k]))  # clip at the utterance's end
            if end > start:
                out[k].append(Finding(entity, start, end, r.score))

    # ------------------------------------------------------------ replacement
    @staticmethod
    def placeholders(texts: list[str], findings: list[list[Finding]], aliases: dict[str, str] | None = None
                     ) -> tuple[list[list[tuple[int, int, str]]], Counter]:
        """Typed placeholders consistent across one session's texts: [NAME_1] stays [NAME_1].

        ``aliases`` maps a name variant's canonical form to its person ("emily" -> "emilycarter"),
        so a participant's first name and full name share one placeholder.
        """
        aliases = aliases or {}
        mapping: dict[tuple[str, str], str] = {}
        per_type: Counter = Counter()
        counts: Counter = Counter()
        spans = []
        for text, fs in zip(texts, findings):
            own = []
            for f in fs:
                value = canonical_value(f.entity, text[f.start:f.end])
                key = (f.entity, aliases.get(value, value) if f.entity == "NAME" else value)
                if key not in mapping:
                    per_type[f.entity] += 1
                    mapping[key] = f"[{f.entity}_{per_type[f.entity]}]"
                counts[f.entity] += 1
                own.append((f.start, f.end, mapping[key]))
            spans.append(own)
        return spans, counts

    def replace(self, texts: list[str], spans: list[list[tuple[int, int, str]]]) -> list[str]:
        """Apply placeholder spans with the AnonymizerEngine, one call per chunk of texts."""
        out = list(texts)
        todo = [k for k, s in enumerate(spans) if s]
        for chunk in self._chunks(todo, texts):
            if any(SEP in texts[k] for k in chunk):  # cannot split on SEP afterwards: one call each
                for k in chunk:
                    out[k] = self._replace_one(texts[k], spans[k])
                continue
            results, pos = [], 0
            for k in chunk:
                results += [AnonResult(ph, pos + s, pos + e, 1.0) for s, e, ph in spans[k]]
                pos += len(texts[k]) + 1
            done = self._replace_one(SEP.join(texts[k] for k in chunk), results=results).split(SEP)
            for k, text in zip(chunk, done):
                out[k] = text
        return out

    def _replace_one(self, text: str, spans=None, results=None) -> str:
        results = results if results is not None else [AnonResult(ph, s, e, 1.0) for s, e, ph in spans]
        # Each placeholder is its own entity type, replaced by itself.
        ops = {r.entity_type: OperatorConfig("replace", {"new_value": r.entity_type}) for r in results}
        # merge_entities_with_spaces=False: "Emily" "Carter" found apart stay two placeholders.
        return self.anonymizer.anonymize(text, results, operators=ops, merge_entities_with_spaces=False).text

    def anonymize(self, texts: list[str], findings: list[list[Finding]],
                  aliases: dict[str, str] | None = None) -> tuple[list[str], Counter]:
        """Placeholders for one session's texts, replaced; returns (texts, counts per type)."""
        spans, counts = self.placeholders(texts, findings, aliases)
        return self.replace(texts, spans), counts
