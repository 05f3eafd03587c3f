"""Candidate values per persona dimension, found in the text by general rules.

A 135M encoder given free strings writes the same junk phrase into every field. Given a short list
of spans that really occur in the text (plus null), it only has to choose, and every value it can
produce is grounded by construction. Habits are agent-level: a phrase is a catchphrase candidate
when the agent uses it distinctively more than the other agents of its language in the batch.

- catchphrase: word (en) / character (zh) n-grams and short clauses of the reply x that the agent
  also said in at least ``MIN_CATCHPHRASE_SESSIONS`` of its sessions, whose log-odds ratio against
  the other agents' texts is significant (z >= Z_MIN), and that are not only function words
  (``function_words``: stopwords-iso and jieba)
- emoji: the emojis of the agent's text (``emoji`` library), most used by the agent first
- nickname: address terms in vocative position (sentence-initial "X, ..." after any interjection,
  or a final ", X!"), not used more by other agents than by this one; never a function word, an
  interjection or (zh) a phrase with a verb in it ("睡觉，...", "老实说，...")
- hobby: general patterns ("I love Xing", "my hobby is X", "我喜欢X", "爱好是X") plus a lexicon
- topic: content words of (c, x) with the highest tf-idf against the batch's sessions: en words
  that are no function word, no given name (the scrubber's gazetteer) and never written
  capitalised mid-sentence (a name); zh nouns by jieba's tagger, never a person or place name
- relationship, personality: the values whose dictionary cue words occur (``lexicons``); none
  means null (the abstention rule); tone and vibe: every value once the agent wrote anything
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vvae_pipeline import latent
from vvae_pipeline.encode import function_words as fw
from vvae_pipeline.encode import lexicons as lx

# 5 choices per field x 5 open fields adds ~150 prompt tokens.
MAX_CANDIDATES = 5
# One-sided 95% on the Haldane-corrected log-odds ratio: on the demo (seed 0) an agent's true
# catchphrase is in 2-4 of its ~20 texts and 0 of the ~40 of the others (z = 1.5-2.1), while the
# shared template lines score ~0; 2.33 (99%) kept no true catchphrase there.
Z_MIN = 1.64
Z_MIN_VOCATIVE = 0.0
# A habit shows across conversations: a phrase repeated inside one scene is what that scene is
# about, not how the agent talks.
MIN_CATCHPHRASE_SESSIONS = 2
# jieba tags of zh topic words: common nouns, other proper nouns (nz), verbal and adjectival nouns.
# Person (nr, nrt, nrfg) and place (ns) names are left out: they identify people, not topics.
ZH_TOPIC_TAGS = frozenset({"n", "nz", "vn", "an", "ng"})
# jieba tags that never stand in an address term: verbs, pronouns, adverbs, conjunctions, particles,
# numerals, time words, and set phrases and idioms (l, i: "无所谓" stood as a CPED nickname).
ZH_NOT_ADDRESS_TAGS = ("v", "r", "d", "c", "p", "y", "e", "o", "m", "q", "t", "f", "l", "i")

_PLACEHOLDER = re.compile(r"\[[A-Z_]+(?:_\d+)?\]|<[A-Z_]+>")
_EN_WORD = re.compile(r"[a-z']+")
_ZH_RUN = re.compile(r"[\u4e00-\u9fff]+")
_CLAUSE = re.compile(r"[,.!?;:~|\n，。！？；：～…]+")
_SENTENCE = re.compile(r"[^.!?\n。！？]+[.!?。！？]*")


def clean(text: str) -> str:
    return _PLACEHOLDER.sub(" ", text or "")


def match_key(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", text or "").replace("\ufe0f", "").lower()


def log_odds_z(k_a: int, n_a: int, k_o: int, n_o: int) -> float:
    """z of the log-odds ratio of a 2x2 table (agent texts with/without a value vs other agents'),
    each cell + 0.5 (Haldane)."""
    a, b, c, d = k_a + 0.5, max(n_a - k_a, 0) + 0.5, k_o + 0.5, max(n_o - k_o, 0) + 0.5
    return (math.log(a / b) - math.log(c / d)) / math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def _units(text: str, language: str) -> tuple[set[str], set[str]]:
    """(every phrase unit, the units that are whole short clauses) of one text.

    en: word 2-4-grams plus whole clauses of 1-4 words; zh (no word boundaries): whole clauses of
    1-6 characters plus 2-4-character n-grams at clause edges (sliding windows through a sentence
    give fragments)."""
    text = _zh_spaces(clean(text).lower(), language)
    units: set[str] = set()
    clauses: set[str] = set()
    for clause in _CLAUSE.split(text):
        clause = clause.strip()
        if language == "zh":
            runs = _ZH_RUN.findall(clause)
            if len(runs) == 1 and runs[0] == clause and len(clause) <= 6 and clause not in lx.ZH_STOP:
                units.add(clause)
                clauses.add(clause)
            for run in runs[:1] + runs[-1:]:
                # Edge n-grams end on a jieba word boundary: "怎么办" gives no "么办" (a fragment that
                # stood as a catchphrase on 240 CPED examples).
                cuts = _zh_cuts(run)
                for n in (2, 3, 4):
                    if len(run) > n:
                        units.update(g for g, cut in ((run[:n], n), (run[-n:], len(run) - n))
                                     if cut in cuts and not all(ch in lx.ZH_STOP for ch in g))
        else:
            words = _EN_WORD.findall(clause)
            # A lone interjection ("hey", "hello") is how a turn opens, not a habit of speech.
            if 1 <= len(words) <= 4 and not all(w in lx.EN_STOP or w in lx.EN_NOT_NAMES for w in words):
                units.add(" ".join(words))
                clauses.add(" ".join(words))
            for n in (2, 3, 4):
                units.update(" ".join(words[i : i + n]) for i in range(len(words) - n + 1)
                             if not all(w in lx.EN_STOP or w in lx.EN_NOT_NAMES for w in words[i : i + n]))
    return units, clauses


@lru_cache(maxsize=65536)
def _zh_cuts(run: str) -> frozenset[int]:
    """Character offsets where jieba puts a word boundary in ``run``."""
    import jieba

    jieba.setLogLevel(60)
    return frozenset(end for _, _, end in jieba.tokenize(run))


def _zh_spaces(text: str, language: str) -> str:
    # Subtitled zh (CPED) separates clauses with spaces instead of punctuation.
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "，", text) if language == "zh" else text


def phrase_units(text: str, language: str) -> set[str]:
    return _units(text, language)[0]


def emojis(text: str) -> set[str]:
    import emoji

    return {c for m in emoji.emoji_list(text or "") if (c := latent.normalize("emoji", m["emoji"]))}


def vocatives(text: str, language: str) -> set[str]:
    """Words in vocative position: sentence-initial before a comma (after interjections), or
    sentence-final after a comma."""
    found: set[str] = set()
    for sent in _SENTENCE.findall(_zh_spaces(clean(text), language)):
        sent = sent.strip()
        if language == "zh":
            for m in re.finditer(
                r"^([\u4e00-\u9fff]{2,3})[，,！!～~]|[，,]([\u4e00-\u9fff]{2,3})[！!～~。？?]*$", sent
            ):
                name = m.group(1) or m.group(2)
                if (name not in lx.ZH_NOT_NAMES and not name.startswith(lx.ZH_NOT_NAME_START)
                        and not name.endswith(lx.ZH_NOT_NAME_END) and address_term(name, "zh")):
                    found.add(name)
            continue
        low = sent.lower()
        spans = []
        parts = low.split(",")
        i = 0  # skip leading interjection chunks ("oh, ...", "well, well, ...")
        while i < len(parts) - 1 and all(w in lx.EN_NOT_NAMES for w in parts[i].split()):
            i += 1
        if i < len(parts) - 1 and re.fullmatch(r"[a-z' ]{2,40}", parts[i].strip()):
            words = parts[i].split()
            while words and words[0] in lx.EN_NOT_NAMES:
                words = words[1:]
            spans.append(words)
        if (m := re.search(r",\s*([a-z]+)\s*[.!?~]*$", low)):
            spans.append([m.group(1)])
        for words in spans:
            # A given name in vocative position is a person's name, which the scrubber replaces:
            # "what the speaker calls the other person" never carries it into a prior.
            if (len(words) == 1 and len(words[0]) >= 2 and words[0] not in lx.EN_STOP
                    and words[0] not in lx.EN_NOT_NAMES and words[0] not in _given_names()
                    and address_term(words[0], "en")):
                found.add(words[0])
    return found


def address_term(value: str, language: str) -> bool:
    """Can ``value`` be what someone calls another person? Not a function word or interjection,
    and (zh) no verb, pronoun, adverb or particle inside it."""
    if fw.is_function_word(value, language):
        return False
    if language != "zh":
        return True
    return not any(tag.startswith(ZH_NOT_ADDRESS_TAGS) for _, tag in _zh_tagged(value))


def _zh_tagged(text: str) -> list[tuple[str, str]]:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    return [(p.word, p.flag) for p in jieba.posseg.lcut(text)]


_EN_HOBBY = re.compile(
    r"\bi (?:really |also |just |totally )?(?:love|like|enjoy|adore|am into|'m into|am a fan of|'m a fan of)"
    r"\s+(?:to go |going )?([a-z]+ing\b(?: (?!and\b|with\b|the\b|a\b|to\b|in\b|at\b|on\b|for\b)[a-z]+)?)"
    r"|\bmy (?:favou?rite )?hobb(?:y is|ies are|y's)\s+([a-z]+(?: [a-z]+)?)"
    r"|\bin my (?:free|spare) time,? i (?:like to |love to |usually )?([a-z]+(?: [a-z]+)?)"
)
_ZH_HOBBY = re.compile(
    r"(?:我(?:很|最|超|特别|也|比较)?(?:喜欢|爱|热爱)|爱好是|兴趣是|业余(?:时间)?(?:喜欢|爱)?|没事就(?:爱|喜欢)?)"
    r"([\u4e00-\u9fff]{2,4})"
)


def hobbies(text: str, language: str) -> Counter:
    """Hobby spans of one text: 2 for a pattern hit, 1 for a lexicon word alone."""
    out: Counter = Counter()
    text = clean(text)
    if language == "zh":
        for m in _ZH_HOBBY.finditer(text):
            span = m.group(1)
            if span.startswith(lx.ZH_NOT_NAME_START):
                continue
            hits = [h for h in lx.ZH_HOBBIES if h in span]
            span = max(hits, key=len) if hits else re.split(r"[的了和吧呢啊呀，]", span)[0]
            if len(span) >= 2:
                out[span] += 2
        out.update({h: 1 for h in lx.ZH_HOBBIES if h in text and h not in out})
        return out
    low = text.lower()
    for m in _EN_HOBBY.finditer(low):
        span = next(g for g in m.groups() if g).strip()
        words = span.split()
        if words and words[0] not in lx.EN_STOP:
            first = words[0]
            out[first if first in lx.EN_HOBBIES else span] += 2
    out.update({h: 1 for h in lx.EN_HOBBIES if h not in out and re.search(rf"\b{re.escape(h)}\b", low)})
    return out


def topic_terms(text: str, language: str) -> Counter:
    """Content words of ``text`` that could say what a chat is about (never a name or placeholder)."""
    text = clean(text)
    if language == "zh":
        return Counter(w for run in _ZH_RUN.findall(text) for w, tag in _zh_tagged(run)
                       if tag in ZH_TOPIC_TAGS and len(w) >= 2 and not fw.is_function_word(w, "zh"))
    # A word written capitalised after the first word of a sentence is a name ("told Jessica").
    capitalised = {m.group(1).lower() for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+)\b", text)}
    given = _given_names()
    return Counter(w for w in _EN_WORD.findall(text.lower())
                   if len(w) >= 3 and "'" not in w and w not in lx.EN_NOT_NAMES and w not in capitalised
                   and w not in given and not fw.is_function_word(w, "en"))


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    # The scrubber's gazetteer, read directly: scrub.names imports Presidio, which the vLLM
    # environment does not have.
    path = Path(latent.__file__).resolve().parent / "data" / "name_gazetteer.json"
    return frozenset(n.lower() for n in json.loads(path.read_text(encoding="utf-8")).get("en_first", []))


@dataclass
class AgentEvidence:
    """What one agent (or a pool of agents) shows across the batch: in how many texts each value,
    and in how many sessions each phrase."""

    n_texts: int = 0
    phrases: Counter = field(default_factory=Counter)
    emojis: Counter = field(default_factory=Counter)
    vocatives: Counter = field(default_factory=Counter)
    hobbies: Counter = field(default_factory=Counter)
    phrase_sessions: Counter = field(default_factory=Counter)

    def __add__(self, other: AgentEvidence) -> AgentEvidence:
        return AgentEvidence(self.n_texts + other.n_texts, self.phrases + other.phrases, self.emojis + other.emojis,
                             self.vocatives + other.vocatives, self.hobbies + other.hobbies,
                             self.phrase_sessions + other.phrase_sessions)


def agent_evidence(texts: list[str], language: str, sessions: list[str] | None = None) -> AgentEvidence:
    """Evidence of one agent's ``texts``; ``sessions`` (parallel to ``texts``) names the session of
    each text; without it every text counts as a session of its own."""
    ev = AgentEvidence()
    seen: set[tuple[str, str]] = set()
    per_session: dict[str, set[str]] = {}
    for i, t in enumerate(texts):
        sid = sessions[i] if sessions is not None else str(i)
        units = phrase_units(t, language)
        per_session.setdefault(sid, set()).update(units)
        if any(t == other for _, other in seen):
            continue
        seen.add((sid, t))
        ev.n_texts += 1
        ev.phrases.update(units)
        ev.emojis.update(emojis(t))
        ev.vocatives.update(vocatives(t, language))
        ev.hobbies.update(set(hobbies(t, language)))
    for units in per_session.values():
        ev.phrase_sessions.update(units)
    return ev


def _distinct(here, mine: Counter, n_mine: int, others: Counter, n_others: int, min_count: int,
              z_min: float) -> dict[str, float]:
    """Values of this item with their z; without other agents to compare with, repetition only."""
    out = {}
    for v in here:
        if mine[v] < min_count:
            continue
        z = log_odds_z(mine[v], n_mine, others[v], n_others) if n_others else float(mine[v])
        if not n_others or z >= z_min:
            out[v] = z
    return out


def _has(cue: str, text: str) -> bool:
    return bool(re.search(rf"(?<![a-z']){re.escape(cue)}(?![a-z'])", text)) if cue.isascii() else cue in text


def closed_candidates(agent_texts: list[str], all_texts: list[str]) -> dict[str, list[str]]:
    """Allowed values of the closed dimensions (the abstention rule): relationship from cues anywhere
    in (c, x), personality from cues in the agent's own text, tone/vibe once the agent wrote
    ``MIN_STYLE_CHARS``; an empty list means null without asking."""
    agent, every = match_key(clean(" ".join(agent_texts))), match_key(clean(" ".join(all_texts)))
    styled = len(re.sub(r"\s+", "", agent)) >= lx.MIN_STYLE_CHARS
    return {
        "tone": list(latent.TONES) if styled else [],
        "vibe": list(latent.VIBES) if styled else [],
        "relationship": [v for v, cues in lx.RELATIONSHIP_CUES.items() if any(_has(match_key(c), every) for c in cues)],
        "personality": [v for v, cues in lx.PERSONALITY_CUES.items() if any(_has(match_key(c), agent) for c in cues)],
    }


def _top(scores: dict[str, float], limit: int = MAX_CANDIDATES) -> list[str]:
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))][:limit]


def find_candidates(agent_texts: list[str], all_texts: list[str], language: str,
                    agent: AgentEvidence | None = None, others: AgentEvidence | None = None,
                    topic_df: Counter | None = None, n_sessions: int = 0,
                    reply: str | None = None) -> dict[str, list[str]]:
    """Candidate values per dimension, best first; an empty list means only null is allowed.

    ``agent``/``others``: evidence across the batch for this agent / the other agents of its
    language; ``topic_df``: in how many of the batch's ``n_sessions`` sessions each topic term
    occurs. Without them only this item's texts count (each as a session of its own).
    ``reply``: the target x; a catchphrase must occur in it (default: the last agent text).
    """
    agent = agent or agent_evidence(agent_texts, language)
    others = others or AgentEvidence()
    texts = list(dict.fromkeys(agent_texts))
    here_emoji = set().union(*(emojis(t) for t in texts)) if texts else set()
    here_voc = set().union(*(vocatives(t, language) for t in texts)) if texts else set()
    nick = _top(_distinct(here_voc, agent.vocatives, agent.n_texts, others.vocatives, others.n_texts, 1,
                          Z_MIN_VOCATIVE))
    here_hobby: Counter = sum((hobbies(t, language) for t in texts), Counter())
    hobby = _top({h: agent.hobbies[h] * 10 + c for h, c in here_hobby.items()})
    # A repeated phrase that is the agent's nickname or hobby is not its catchphrase.
    taken = {match_key(v) for v in nick[:1] + hobby[:1]}
    # A catchphrase is said in x itself, and across sessions: units of the reply only.
    units, whole = _units(reply if reply is not None else (agent_texts[-1] if agent_texts else ""), language)
    units = {u for u in units if agent.phrase_sessions[u] >= MIN_CATCHPHRASE_SESSIONS
             and not any(x in u or u in x for x in taken) and not fw.is_function_word(u, language)}
    phrases = _distinct(units, agent.phrases, agent.n_texts, others.phrases, others.n_texts, 2, Z_MIN)
    # Drop a phrase inside a longer kept one with as much evidence ("oh my" inside "oh my god").
    kept = [g for g in phrases if not any(g != o and g in o and agent.phrases[o] >= agent.phrases[g] for o in phrases)]
    kept.sort(key=lambda g: (g not in whole, -phrases[g], -len(g), g))
    tf = sum((topic_terms(t, language) for t in dict.fromkeys(all_texts)), Counter())
    idf = {w: math.log((1 + n_sessions) / (1 + (topic_df or Counter())[w])) + 1 for w in tf}
    topic = _top({w: c * idf[w] for w, c in tf.items() if c >= 2})
    return {
        "catchphrase": kept[:MAX_CANDIDATES],
        "emoji": _top({e: agent.emojis[e] for e in here_emoji}),
        "nickname": nick,
        "hobby": hobby,
        "topic": topic,
        **closed_candidates(agent_texts, all_texts),
    }
