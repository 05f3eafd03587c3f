"""Third-party names without cue words (issue #26): recall on the fresh probe set
(tests/support/pii_probe_v3_names.py) through the scrubber's fast path, as test_scrub_probe_v2.py
drives it, with Wilson 95% intervals (run with -s); everyday words that are also names stay.

False positives on real corpora are measured by bench/names_fp.py (a person judges a sample); the
existing corpus test (test_scrub_probe_v2.py) bounds the flagged share per corpus.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_scrub_probe_v2 import _rate

from tests.support.pii_probe_v3_names import PROBES
from vvae_pipeline.scrub import Scrubber


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber()


def _caught(scrubber, lang: str, text: str, name: str) -> bool:
    found = scrubber.find([text], lang, [None])[0]
    start = text.index(name)
    return any(f.start <= start and f.end >= start + len(name) for f in found)


def test_probe_set_is_fresh_and_large_enough():
    support = Path(__file__).resolve().parents[1] / "support"
    old = (support / "pii_probe.py").read_text(encoding="utf-8") + (support / "pii_probe_v2.py").read_text(
        encoding="utf-8"
    )
    old_words = {w.lower() for w in re.findall(r"[A-Za-z]{3,}", old)}
    # Nor any example in the recognizers' sources (the name lists they load are data, not examples).
    root = Path(__file__).resolve().parents[2]
    sources = "".join(p.read_text(encoding="utf-8").lower() for p in (root / "vvae_pipeline" / "scrub").glob("*.py"))
    source_words = set(re.findall(r"[a-z]{3,}", sources))
    per_lang = {"en": 0, "zh": 0}
    for lang, text, name in PROBES:
        per_lang[lang] += 1
        assert name in text
        assert name.lower() not in old_words and name not in old and text not in old, name
        assert name.lower() not in source_words and name not in sources, name
        if lang == "en":
            assert text == text.lower()  # lower-case chat
    assert per_lang["en"] >= 30 and per_lang["zh"] >= 30


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_cue_free_names_caught_at_least_90_percent(scrubber, lang):
    probes = [(t, n) for lg, t, n in PROBES if lg == lang]
    missed = [n for t, n in probes if not _caught(scrubber, lang, t, n)]
    hit = len(probes) - len(missed)
    print(f"\nprobe v3 third-party names without cue words, {lang}: {_rate(hit, len(probes))}, missed {missed}")
    assert hit / len(probes) >= 0.90, missed


@pytest.mark.parametrize("text", [
    "i will mark the calendar", "to be frank i hated it", "we may go in june", "the rose garden was lovely",
    "by the grace of god", "hope you feel better", "what a guy", "summer in paris", "that's an art",
    "put a jack under the car", "the sun rose at six",
])
def test_everyday_words_that_are_names_stay(scrubber, text):
    assert not scrubber.find([text], "en", [None])[0], text


@pytest.mark.parametrize("text,name", [
    ("told mark about it", "mark"), ("frank said no", "frank"), ("I met Rose yesterday", "Rose"),
])
def test_everyday_word_names_with_a_person_context(scrubber, text, name):
    assert _caught(scrubber, "en", text, name)


@pytest.mark.parametrize("text", ["我想谢谢你", "一加一等于二", "连狗都不愿意吃", "他不会被戴绿帽子吧",
                                  "小二，来壶上等龙井",
                                  "周末去哪儿玩", "黄金又涨价了"])
def test_zh_plain_context_guards(scrubber, text):
    assert not scrubber.find([text], "zh", [None])[0], text


def test_cue_free_detection_is_what_catches_them(scrubber, monkeypatch):
    """With the cue-free parts off, most probes leak (as before issue #26: en 0/32, zh 22/32)."""
    from vvae_pipeline.scrub import names, zh_names

    monkeypatch.setattr(names, "CUE_FREE", False)
    monkeypatch.setattr(zh_names, "CUE_FREE", False)
    hit = sum(_caught(scrubber, lg, t, n) for lg, t, n in PROBES)
    assert hit / len(PROBES) < 0.5


def test_fast_path_prefilter_keeps_every_cue_free_name(scrubber):
    """The prefilter's hint (names.py, hints.vector_hint) is a superset: the fast path finds what
    one analyzer call per utterance finds, in lower case, capitalised and mixed spellings."""
    texts = [t for lg, t, _ in PROBES if lg == "en"]
    texts += [t.capitalize() for t in texts] + ["so McKenzie and JESSICA came", "Told Bethany already"]
    fast = scrubber.find(texts, "en", [None] * len(texts))
    assert fast == [scrubber.find_one(t, "en") for t in texts]
    zh = [t for lg, t, _ in PROBES if lg == "zh"]
    assert scrubber.find(zh, "zh", [None] * len(zh)) == [scrubber.find_one(t, "zh") for t in zh]
