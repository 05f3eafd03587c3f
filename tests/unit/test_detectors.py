"""Hand-written positive and negative cases for the CP / EC / HM detectors, zh and en."""

import pytest

from vvae_pipeline.evaluate.detectors import (
    distance,
    emojis_in,
    has_catchphrase,
    has_emoji,
    has_hobby,
    rates,
    stem,
)


@pytest.mark.parametrize(
    ("reply", "phrase", "expected"),
    [
        ("Let’s GOOO!! we did it", "let's gooo", True),  # curly quote + case
        ("no worries   at all, really", "No worries at all", True),  # whitespace + case
        ("I'm just saying.", "just saying", True),
        ("adjust sayings for the crowd", "just saying", False),  # no match inside words
        ("no worries", "no worries at all", False),  # partial phrase
        ("哈哈，真的假的呀？", "真的假的", True),
        ("说白了就是懒", "说白了", True),
        ("白说了", "说白了", False),
        ("anything", None, False),
        ("ｊｕｓｔ ｓａｙｉｎｇ", "just saying", True),  # full-width Latin (NFKC)
    ],
)
def test_catchphrase(reply, phrase, expected):
    assert has_catchphrase(reply, phrase) is expected


@pytest.mark.parametrize(
    ("reply", "persona_emoji", "expected"),
    [
        ("love it ❤️", "❤", True),  # variation selector
        ("love it ❤", "❤️", True),
        ("love it :heart:", "❤️", True),  # shortcode in the reply
        ("nice 👍🏽", "👍", True),  # skin tone
        ("good night 🌙", ":crescent_moon:", True),  # shortcode in the persona
        ("let's go 🔥", "🌙", False),
        ("哈哈😂😂", "😂", True),
        ("哈哈", "😂", False),
        ("😤 哼", "😂", False),
        ("🔥", None, False),
    ],
)
def test_emoji(reply, persona_emoji, expected):
    assert has_emoji(reply, persona_emoji) is expected


def test_emojis_in_is_canonical():
    assert emojis_in("a ❤️ b 👍🏾 :fire:") == ["❤", "👍", "🔥"]


@pytest.mark.parametrize(
    ("reply", "hobby", "expected"),
    [
        ("We went hiking on Sunday", "hiking", True),
        ("She is a keen hiker", "hiking", True),
        ("two long hikes this week", "hike", True),
        ("I like to hike", "hiking", True),
        ("I hate hitting things", "hiking", False),
        ("Stargazing tonight?", "stargazing", True),
        ("a stargazer like me", "stargazing", True),
        ("I went climbing on the rock wall", "rock climbing", True),
        ("I love rock music", "rock climbing", False),  # every content word must occur
        ("my guitars are old", "playing guitar", True),  # light verb dropped
        ("let's play", "playing guitar", False),
        ("I love movies", "watching a movie", False),  # "watch" is not a light verb
        ("watching two movies", "watching a movie", True),
        ("watched two movies", "watching a movie", False),  # no -ed in our morphology
        ("baked sourdough again", "baking sourdough", False),  # "baked" is not in our morphology
        ("baking some sourdough bread", "baking sourdough", True),
        ("swimming or camping?", "camping and hiking", True),  # alternatives
        ("明天去羽毛球馆吗", "打羽毛球", True),  # light verb 打 dropped
        ("明天打球吗", "打羽毛球", False),
        ("周末去钓鱼", "钓鱼", True),
        ("周末去钓了鱼", "钓鱼", False),
        ("我在画画呢", "画画", True),
        ("我在画图", "画画", False),
        ("anything", None, False),
    ],
)
def test_hobby(reply, hobby, expected):
    assert has_hobby(reply, hobby) is expected


@pytest.mark.parametrize(
    ("a", "b"),
    [("hiking", "hikes"), ("hobby", "hobbies"), ("movie", "movies"), ("running", "run"), ("gardener", "garden")],
)
def test_stem_conflates(a, b):
    assert stem(a) == stem(b)


def test_rates_share_one_denominator():
    luna = {"catchphrase": "no worries at all", "emoji": "🌙", "hobby": "stargazing"}
    bare = {"catchphrase": None, "emoji": None, "hobby": None}
    outputs = ["No worries at all 🌙", "stargazing later?", "no worries at all", "hi"]
    r = rates(outputs, [luna, luna, bare, bare])
    # The third reply says the phrase, but its persona has none: it is not a hit.
    assert r == {"n": 4, "n_with": {"cp": 2, "ec": 2, "hm": 2}, "cp": 0.25, "ec": 0.25, "hm": 0.25}


def test_rates_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="pair up"):
        rates(["a", "b"], [{}])


def test_distance():
    assert distance({"cp": 0.3, "ec": 0.4, "hm": 0.0}, {"cp": 0.0, "ec": 0.0, "hm": 0.0}) == pytest.approx(0.5)
