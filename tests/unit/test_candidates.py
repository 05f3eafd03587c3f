"""Candidate values by general rules: agent-level distinctiveness, vocative positions, hobby
patterns, closed-value cues (the abstention rule); and nothing taken from the demo generator."""

from __future__ import annotations

import re

import pytest

from vvae_pipeline import latent
from vvae_pipeline.encode import candidates as cand
from vvae_pipeline.encode import lexicons as lx
from vvae_pipeline.ingest import demo


def test_catchphrase_is_what_the_agent_says_more_than_the_others():
    mine = ["you bet, see you soon", "you bet! that works", "you bet", "ok then, you bet", "fine, no problem"]
    theirs = [f"no problem at all {i}" for i in range(20)] + ["sounds good, no problem"] * 2
    me, others = cand.agent_evidence(mine, "en"), cand.agent_evidence(theirs, "en")
    found = cand.find_candidates(["you bet, no problem"], ["you bet, no problem"], "en", me, others)
    assert found["catchphrase"] == ["you bet"]  # "no problem" is as common among the others: nobody's
    assert cand.log_odds_z(4, 5, 0, 22) > cand.Z_MIN > cand.log_odds_z(1, 5, 22, 22)


def test_without_a_batch_a_catchphrase_must_repeat_inside_the_item():
    found = cand.find_candidates(["far out, friend.", "we'll see. far out"], [], "en")
    assert "far out" in found["catchphrase"]
    assert cand.find_candidates(["far out, friend."], [], "en")["catchphrase"] == []


@pytest.mark.parametrize("text, lang, name", [
    ("Kiddo, you need to eat something.", "en", "kiddo"),
    ("Well partner, that is a plan.", "en", "partner"),  # after an interjection
    ("We should go now partner.", "en", None),  # no comma before the name: not a vocative position
    ("Oh, partner, that is a plan.", "en", "partner"),
    ("That is the plan, partner!", "en", "partner"),
    ("Honestly, it is fine.", "en", None),  # a discourse marker, not a name
    ("师父，我们走吧", "zh", "师父"),
    ("就这么办 老大", "zh", "老大"),  # subtitles separate clauses with spaces
    ("我觉得，还行", "zh", None),
])
def test_vocative_positions(text, lang, name):
    assert cand.vocatives(text, lang) == ({name} if name else set())


@pytest.mark.parametrize("text, lang, hobby", [
    ("I really enjoy woodworking on weekends.", "en", "woodworking"),
    ("my hobby is knitting scarves", "en", "knitting"),
    ("i play chess with my uncle", "en", "chess"),
    ("我最喜欢下棋了", "zh", "下棋"),
    ("爱好是书法", "zh", "书法"),
])
def test_hobby_patterns_and_lexicon(text, lang, hobby):
    assert hobby in cand.hobbies(text, lang)


def test_emoji_topic_and_closed_cues():
    agent = ["my coworker said the deadline moved 🙃", "the deadline again 🙃"]
    found = cand.find_candidates(agent, agent + ["ugh the deadline"], "en")
    assert found["emoji"] == ["🙃"]
    assert found["topic"][0] == "deadline"
    assert found["relationship"] == ["colleague"]
    assert found["personality"] == []  # no trait cue: null without asking
    assert found["tone"] == list(latent.TONES)  # style is answered once the agent wrote something
    short = cand.closed_candidates(["ok"], ["ok"])
    assert short["tone"] == [] and short["vibe"] == []
    assert cand.closed_candidates(["我这人比较内向"], [])["personality"] == ["introverted"]


def _demo_strings() -> tuple[set[str], set[str]]:
    """(the demo's persona values, its template phrases with the placeholders cut out)."""
    values, phrases = set(), set()
    for a in demo.AGENTS:
        values |= {a.catchphrase, a.nickname, a.hobby}
        phrases |= {a.relationship_cue, a.personality_cue, a.catchphrase}
    for table in (demo.AGENT_LINES, demo.USER_LINES):
        for lines in table.values():
            for line in lines:
                phrases |= {p.strip(" ,.!?，。！？") for p in re.split(r"\{\w+\}", line)}
    for line in demo.HOBBY_LINES.values():
        phrases |= {p.strip(" ,.!?，。！？") for p in re.split(r"\{\w+\}", line)}
    return {v.lower() for v in values}, {p.lower() for p in phrases if len(p.strip()) >= 2}


def _our_strings() -> list[str]:
    words = [*lx.EN_HOBBIES, *lx.ZH_HOBBIES, *lx.EN_NOT_NAMES, *lx.ZH_NOT_NAMES, *lx.EN_STOP]
    words += [c for cues in lx.CLOSED_CUES.values() for cs in cues.values() for c in cs]
    return [w.lower() for w in words]


def test_no_demo_value_or_template_phrase_in_the_lexicons_or_patterns():
    values, phrases = _demo_strings()
    ours = _our_strings()
    assert not values & set(ours), values & set(ours)
    patterns = [p.pattern.lower() for p in (cand._EN_HOBBY, cand._ZH_HOBBY)]
    for phrase in phrases:
        # A demo phrase of 3+ words (or 4+ characters) inside a lexicon entry or a pattern.
        long = len(phrase.split()) >= 3 if phrase.isascii() else len(phrase) >= 4
        if long:
            assert not any(phrase in o for o in ours + patterns), phrase
    # ... and no lexicon entry of 3+ words / 4+ characters lifted from a demo phrase.
    for o in ours:
        if (len(o.split()) >= 3 if o.isascii() else len(o) >= 4):
            assert not any(o in p for p in phrases), o
    for fragment in ("spent the", "又去", "clears my head", "解压", "hey"):
        assert not any(fragment in p for p in patterns), fragment


def _sessions(*texts_per_session):
    texts, sids = [], []
    for i, texts_i in enumerate(texts_per_session):
        texts += texts_i
        sids += [f"s{i}"] * len(texts_i)
    return texts, sids


def test_a_catchphrase_repeats_across_sessions_and_occurs_in_x():
    one, one_ids = _sessions(["far out, let's go", "cool. far out", "far out!"])
    two, two_ids = _sessions(["far out, let's go", "cool. far out"], ["far out!"])
    others = cand.agent_evidence([f"see you at {i}" for i in range(10)], "en")
    for texts, sids, expected in ((one, one_ids, []), (two, two_ids, ["far out"])):
        me = cand.agent_evidence(texts, "en", sids)
        found = cand.find_candidates(["far out, buddy"], [], "en", me, others, reply="far out, buddy")
        assert found["catchphrase"] == expected
    # Said in earlier turns but not in x: not this example's catchphrase.
    me = cand.agent_evidence(two, "en", two_ids)
    assert (
        cand.find_candidates(["far out", "sure thing"], [], "en", me, others, reply="sure thing")["catchphrase"] == []
    )


@pytest.mark.parametrize("phrase, lang", [("然后呢", "zh"), ("而且", "zh"), ("which", "en"), ("anyway", "en")])
def test_a_function_word_is_never_a_catchphrase(phrase, lang):
    texts, sids = _sessions([f"{phrase}，好", f"{phrase}!"], [f"{phrase}。"])
    me = cand.agent_evidence(texts, lang, sids)
    found = cand.find_candidates([phrase], [], lang, me, cand.agent_evidence(["x y z"] * 8, lang), reply=phrase)
    assert found["catchphrase"] == []


@pytest.mark.parametrize("text, kept", [
    ("吃饭，我们走吧", False),  # a verb in vocative position is no address term
    ("说真的，你别去", False),
    ("嘿嘿，这样挺好", False),  # an interjection
    ("宝宝，我们走吧", True),
    ("well, dude, it is late", True),
])
def test_nicknames_are_address_terms(text, kept):
    assert bool(cand.vocatives(text, "zh" if not text.isascii() else "en")) == kept


def test_topics_are_content_words_never_names_or_placeholders():
    en = cand.topic_terms("I told Jessica about the mortgage. jessica said the mortgage rate is high [NAME_1]", "en")
    assert "mortgage" in en and "jessica" not in en and "name" not in en
    zh = cand.topic_terms("昨天碰到王建国了，他说房贷利率又涨了，房贷压力好大", "zh")
    assert any("房贷" in w for w in zh) and not any("建国" in w or "王" in w for w in zh)


def test_zh_phrase_units_end_on_word_boundaries():
    units = cand.phrase_units("我们怎么办", "zh")
    assert "怎么办" in units and "么办" not in units and "们怎" not in units
