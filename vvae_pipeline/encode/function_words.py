"""Function words: the one test of "this value is a function word, not a persona value".

A catchphrase, nickname or topic that is only function words ("怎么", "所以", "you know", "well")
says nothing about a persona. The lists are kept ones, not hand-made: stopwords-iso (package
``stopwordsiso``, MIT; 1,298 en and 794 zh entries in 0.7.1). Chinese has no spaces, so a zh value
is segmented with jieba first; a value is a function word when every token of it is one.

stopwords-iso's zh list lacks many one-word fillers that carry no persona either (没有, 知道, 现在,
觉得: four of the eight most frequent catchphrase values on 304 drama scenes before this rule). For
a one-word zh value jieba's dictionary decides: its part-of-speech tag is a function class
(pronoun, adverb, conjunction, preposition, particle, interjection, onomatopoeia, numeral,
measure word, time or direction word), or it is a verb at least as frequent as ``ZH_COMMON_VERB_FREQ``
in jieba's corpus counts (知道 42,780, 没有 87,597, 觉得 15,995; 睡觉 1,730, 拜托 127).
"""

from __future__ import annotations

import re
from functools import cache

# jieba part-of-speech classes of function words (jieba's tag set, the ICTCLAS one).
ZH_FUNCTION_TAGS = ("r", "d", "c", "p", "u", "y", "e", "o", "m", "q", "t", "f")
# jieba corpus count from which a lone zh verb is a filler ("知道", "觉得"), not a persona value.
ZH_COMMON_VERB_FREQ = 10_000

_CJK = re.compile(r"[\u4e00-\u9fff]")
_EN_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


@cache
def stopwords(language: str) -> frozenset[str]:
    import stopwordsiso

    return frozenset(w.lower() for w in stopwordsiso.stopwords("zh" if language == "zh" else "en"))


def language_of(value: str) -> str:
    return "zh" if _CJK.search(value or "") else "en"


def tokens(value: str, language: str | None = None) -> list[str]:
    """Word tokens of ``value``: jieba words (CJK and other runs) for zh, letters for en."""
    value = (value or "").strip().lower()
    if (language or language_of(value)) == "zh":
        import jieba

        jieba.setLogLevel(60)
        return [t for t in jieba.lcut(value) if t.strip() and not re.fullmatch(r"\W+", t)]
    return _EN_TOKEN.findall(value)


@cache
def _zh_tables() -> tuple[dict, dict]:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    jieba.dt.check_initialized()
    return jieba.dt.FREQ, jieba.posseg.dt.word_tag_tab


def _zh_filler(token: str) -> bool:
    freq, tags = _zh_tables()
    tag = tags.get(token) or ""
    return tag.startswith(ZH_FUNCTION_TAGS) or (tag == "v" and (freq.get(token) or 0) >= ZH_COMMON_VERB_FREQ)


def is_function_word(value: str | None, language: str | None = None) -> bool:
    """True when ``value`` is a function word: one en word in stopwords-iso; a zh value whose
    jieba tokens are all in stopwords-iso, or one jieba word of a function class (see above). An
    empty value is not a word at all and counts as one."""
    if value is None:
        return False
    language = language or language_of(value)
    toks = tokens(value, language)
    if not toks:
        return True
    stop = stopwords(language)
    # An en phrase of 2+ words is an idiom ("far out", "you know"), whatever its words; zh fillers
    # come as several jieba tokens too ("即使有" = 即使 + 有).
    if (len(toks) == 1 or language == "zh") and all(t in stop for t in toks):
        return True
    return language == "zh" and len(toks) == 1 and _zh_filler(toks[0])


def function_word_share(values: list[str | None], language: str | None = None) -> tuple[int, int]:
    """(function-word values, non-null values) of a column."""
    vals = [v for v in values if v is not None]
    return sum(is_function_word(v, language) for v in vals), len(vals)
