"""Property test: every recognizer's positive examples are still found, with the same span, when
glued to CJK characters, full-width punctuation, emoji or markup on either side (no space).

Values written in ASCII get any of these contexts. Values written in CJK (zh addresses and
names, Weibo handles) cannot have a defined edge inside a run of CJK text, so their left context
is punctuation, emoji or markup, and their right context also CJK particles (吧, 呢) for
addresses. The CJK context characters are function characters: no surname, no address word.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vvae_pipeline.scrub import Scrubber
from vvae_pipeline.scrub.names import names_hint, names_pattern

CJK_CONTEXT = "的了是在我你好吗吧呢啊哦嗯很真太就也这那个"
FULLWIDTH = "，。！？：；（）【】「」、《》～"
EMOJI = ["😂", "🙏", "✨", "🌙", "👍", "❤️", "🔥"]
MARKUP = ["<b>", "</b>", "**", "`", "> ", "[", "]", "(", ")", "<br>", "\""]

# (recognizer family, language, value, participant names, body is CJK)
EXAMPLES = [
    ("email", "zh", "mengqi.lin@qq.com", (), False),
    ("email", "en", "bea_marsh77@hotmail.co.uk", (), False),
    ("email (spelled)", "en", "jo.li(at)qq.com", (), False),
    ("phone CN mobile", "zh", "15920013478", (), False),
    ("phone CN landline", "zh", "0755-86012345", (), False),
    ("phone NANP", "en", "(646) 555-0182", (), False),
    ("phone UK national", "en", "07700 900482", (), False),
    ("phone international", "zh", "+33 6 12 34 56 78", (), False),
    ("CN ID", "zh", "11010519491231002X", (), False),
    ("bank card", "zh", "6228480402564890018", (), False),
    ("stock credit card", "en", "4111 1111 1111 1111", (), False),
    ("passport", "zh", "E12345678", (), False),
    ("URL", "zh", "https://b23.tv/xYz12Ab", (), False),
    ("bare domain", "zh", "lin-studio.cn", (), False),
    ("IPv4", "en", "10.0.0.57", (), False),
    ("IPv6", "zh", "fe80::1ff:fe23:4567:890a", (), False),
    ("handle", "en", "@ravi_codes", (), False),
    ("US SSN", "en", "412-67-3391", (), False),
    ("stock IBAN", "zh", "NL91ABNA0417164300", (), False),
    ("stock NHS", "en", "943 476 5919", (), False),
    ("stock NINO", "en", "AB 12 34 56 C", (), False),
    ("address en", "en", "221 Maple Street, Springfield", (), False),
    ("address UK postcode", "en", "SW1A 1AA", (), False),
    ("address DE", "en", "Schillerstraße 21, 80336 München", (), False),
    ("participant en", "en", "Priya", ("Priya Raman",), False),
    ("gazetteer en", "en", "Jessica", (), False),
    ("address zh road", "zh", "上海市静安区愚园路1088弄12号602室", (), True),
    ("address zh estate", "zh", "翠湖花园7幢1502室", (), True),
    ("address zh village", "zh", "吴中区木渎镇金山村5组18号", (), True),
    ("participant zh", "zh", "林梦琪", ("林梦琪",), True),
    ("handle weibo", "zh", "@小红花123", (), True),
]

ASCII_CONTEXT = st.lists(
    st.one_of(
        st.sampled_from(list(CJK_CONTEXT)),
        st.sampled_from(list(FULLWIDTH)),
        st.sampled_from(EMOJI),
        st.sampled_from(MARKUP),
    ),
    min_size=1,
    max_size=4,
).map("".join)
EDGE_CONTEXT = st.lists(
    st.one_of(
        st.sampled_from(list(FULLWIDTH)), st.sampled_from(EMOJI), st.sampled_from([m for m in MARKUP if m.strip()])
    ),
    min_size=1,
    max_size=4,
).map("".join)


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber()


@pytest.mark.parametrize("family,lang,value,names,cjk_body", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_found_with_the_same_span_in_any_context(scrubber, family, lang, value, names, cjk_body):
    left = EDGE_CONTEXT if cjk_body else ASCII_CONTEXT
    right = (EDGE_CONTEXT | st.sampled_from(["吧", "呢", "啊。"])) if cjk_body and "address" in family else left
    rx, hint = names_pattern(names), names_hint(names)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(prefix=left, suffix=right)
    def check(prefix, suffix):
        text = prefix + value + suffix
        found = scrubber.find([text], lang, [rx], [hint])[0]
        spans = {(f.start, f.end) for f in found}
        assert (len(prefix), len(prefix) + len(value)) in spans, (
            text,
            [(f.entity, text[f.start : f.end]) for f in found],
        )

    check()


@pytest.mark.parametrize("text, url", [
    ('"https://b23.tv/xYz12Ab"', "https://b23.tv/xYz12Ab"),  # hypothesis found this one: the quote was in the span
    ("(https://example.org/a).", "https://example.org/a"),
    ("看这个「https://b23.tv/Q9z」吧", "https://b23.tv/Q9z"),
])
def test_a_url_in_quotes_or_brackets_is_found_without_them(scrubber, text, url):
    [found] = scrubber.find([text], "zh", [None])[0]
    assert (found.entity, text[found.start:found.end]) == ("URL", url)
