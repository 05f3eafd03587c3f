"""PII scrubbing: recall per type on the labelled probe set, false positives on clean text,
fast path == naive Presidio path, session-consistent placeholders, seeded agent cap."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest
from presidio_analyzer import EntityRecognizer, RecognizerResult

from tests.support.pii_probe import (
    CLEAN,
    PROBES,
)
from vvae_pipeline import schemas
from vvae_pipeline.ingest.demo import generate_demo
from vvae_pipeline.ingest.landing import sessions_from_records
from vvae_pipeline.scrub import (
    STRUCTURED,
    Scrubber,
    ScrubParams,
    residual_pii,
    scrub_sessions,
    subsample_agents,
)
from vvae_pipeline.scrub.engine import PLACEHOLDER_RE
from vvae_pipeline.scrub.names import names_hint, names_pattern


@pytest.fixture(scope="module")
def scrubber():
    return Scrubber()


def _raw(sessions: list[dict]) -> pl.DataFrame:
    rows = [(i, s, None, json.dumps(s)) for i, s in enumerate(sessions, start=1)]
    raw, q, _ = sessions_from_records(rows, source_file="t.jsonl", batch_id="t-0")
    assert q.height == 0, q["reason"].to_list()
    return raw


def _is_participant(value: str, names: tuple) -> bool:
    return any(value.lower() in n.lower() for n in names)


def test_probe_recall_per_type_and_false_positive_rate(scrubber):
    hit, total = Counter(), Counter()
    for lang, text, names, labels in PROBES:
        found = scrubber.find([text], lang, [names_pattern(names)], [names_hint(names)])[0]
        for entity, value in labels:
            start = text.index(value)
            end = start + len(value)
            key = "NAME(participant)" if entity == "NAME" and _is_participant(value, names) else entity
            total[key] += 1
            # Recall as a leak measure: the planted string is covered by a finding (of any type).
            hit[key] += any(f.start <= start and f.end >= end for f in found)
    flagged = sum(1 for lang, text in CLEAN if scrubber.find([text], lang, [None])[0])
    recall = {k: hit[k] / total[k] for k in sorted(total)}
    fp_rate = flagged / len(CLEAN)
    print("\nrecall per type:", {k: f"{hit[k]}/{total[k]}" for k in sorted(total)})
    print(f"false-positive rate on {len(CLEAN)} clean utterances: {fp_rate:.1%}")
    assert set(STRUCTURED) <= set(total), "every structured type has probes"
    assert all(recall[t] == 1.0 for t in STRUCTURED), recall
    assert total["NAME(participant)"] >= 20 and recall["NAME(participant)"] >= 0.95, recall
    assert recall["NAME"] >= 0.8, recall
    assert fp_rate <= 0.05


def test_fast_path_finds_what_the_naive_loop_finds(scrubber):
    texts = [t for lang, t, _n, _l in PROBES if lang == "en"] + [t for lang, t in CLEAN if lang == "en"]
    names = ("Emily Carter", "Luna")
    rx, hint = names_pattern(names), names_hint(names)
    fast = scrubber.find(texts, "en", [rx] * len(texts), [hint] * len(texts))
    assert fast == [scrubber.find_one(t, "en", rx) for t in texts]
    assert sum(map(len, fast)) > 30
    # Without the prefilter, and with tiny chunks: the same, so the prefilter loses nothing and
    # spans never leak across utterance boundaries.
    assert Scrubber(prefilter=False).find(texts, "en", [rx] * len(texts)) == fast
    assert Scrubber(chunk_chars=100).find(texts, "en", [rx] * len(texts), [hint] * len(texts)) == fast


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_prefilter_loses_nothing_on_real_corpora(scrubber, shared_data, lang):
    # Real chat text (DailyDialog en, LCCC zh Weibo): the prefiltered fast path finds exactly what
    # analyzing every utterance finds, with gazetteer names and a pair of participant names.
    if lang == "en":
        lines = (shared_data / "dailydialog_en/test/dialogues_test.txt").read_text(encoding="utf-8").splitlines()[:150]
        texts = [u.strip() for line in lines for u in line.split("__eou__") if u.strip()]
        names = ("Mary Jane", "Steven")
    else:
        dialogs = json.loads((shared_data / "lccc_toy_zh/toy_data.json").read_text(encoding="utf-8"))["train"][:300]
        texts = [u.replace(" ", "") for d in dialogs for u in d]
        names = ("王芳", "小雨")
    rx, hint = names_pattern(names), names_hint(names)
    fast = scrubber.find(texts, lang, [rx] * len(texts), [hint] * len(texts))
    slow = Scrubber(prefilter=False).find(texts, lang, [rx] * len(texts))
    assert fast == slow and len(texts) > 500
    skipped = sum(1 for t in texts if not scrubber.may_contain_pii(t, lang, hint))
    assert skipped > 0.5 * len(texts)  # the prefilter does skip most chat utterances


def test_separator_inside_text_cannot_fake_a_boundary(scrubber):
    texts = ["mail a\ue000b@example.com now", "call 13812345678"]
    found = scrubber.find(texts, "zh", [None, None])
    assert [f.entity for f in found[1]] == ["PHONE"] and found[1][0].start == 5


def test_placeholders_are_typed_and_consistent_within_a_session(scrubber):
    texts = ["I'm Emily Carter, call (415) 555-0134", "Emily again: 415-555-0134 or emily@example.com",
             "Luna, tell Emily"]
    rx = names_pattern(["Emily Carter", "Luna"])
    from vvae_pipeline.scrub.sessions import _names

    _, _, aliases = _names(("Emily Carter", "Luna"))
    out, counts = scrubber.anonymize(texts, scrubber.find(texts, "en", [rx] * 3), aliases)
    assert out == ["I'm [NAME_1], call [PHONE_1]", "[NAME_1] again: [PHONE_1] or [EMAIL_1]", "[NAME_2], tell [NAME_1]"]
    assert counts == Counter({"NAME": 4, "PHONE": 2, "EMAIL": 1})


def test_scrub_sessions_contract_and_no_residual_pii(scrubber):
    sessions, _ = generate_demo(n_agents=6, sessions_per_agent=4, seed=3, pii_rate=0.6)
    raw = _raw(sessions)
    scrubbed, stats = scrub_sessions(raw, ScrubParams(), scrubber)
    assert schemas.validate(scrubbed, schemas.ScrubbedSession).passed
    assert "user_name" not in scrubbed.columns and "agent_name" not in scrubbed.columns
    assert stats["sessions_out"] == raw.height == 24 and stats["pii_total"] == scrubbed["pii_found"].sum() > 20
    assert stats["pii_by_type"]["NAME"] > 0 and stats["pii_by_type"]["PHONE"] > 0
    names = {r["session_id"]: (r["user_name"], r["agent_name"]) for r in raw.iter_rows(named=True)}
    assert set(residual_pii(scrubbed.with_columns(session_id=raw["session_id"]), names).values()) == {0}
    # Nothing pre-scrub survives: no display name or planted value appears in any scrubbed text.
    blob = scrubbed.select("turns", "annotations").write_json()
    planted = {n for ns in names.values() for n in ns} | {"11010519491231002X", "4111 1111 1111 1111", "@example.com"}
    assert not [p for p in planted if p in blob]
    # Stats are counts only: no raw value can leak into metadata through them.
    assert not [p for p in planted if p in json.dumps(stats, ensure_ascii=False)]
    # Only PII changes: every changed line carries a placeholder, and the agents' persona lines
    # (catchphrases, nicknames, emoji; no planted PII) come through byte-identical.
    raw_turns = raw.explode("turns")["turns"]
    new_turns = scrubbed.explode("turns")["turns"]
    changed = [(a, b) for a, b in zip(raw_turns.struct.field("text"), new_turns.struct.field("text")) if a != b]
    assert changed and all(PLACEHOLDER_RE.search(b) for _, b in changed)
    roles = raw_turns.struct.field("role").to_list()
    agent_same = [a == b for a, b, r in zip(raw_turns.struct.field("text"), new_turns.struct.field("text"), roles)
                  if r == "agent"]
    assert all(agent_same) and len(agent_same) == 96


def test_raw_residual_check_fails_on_unscrubbed_text(scrubber):
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=3, seed=4, pii_rate=1.0)
    raw = _raw(sessions)
    as_if_scrubbed = raw.drop("agent_name", "user_name").with_columns(pii_found=pl.lit(0))
    assert sum(residual_pii(as_if_scrubbed, None).values()) > 0


def test_pluggable_ner_recognizer_adds_names():
    class TinyNer(EntityRecognizer):
        def __init__(self):
            super().__init__(supported_entities=["PERSON"], name="tiny_ner", supported_language="en")

        def load(self):
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            i = text.find("Quillon")
            return [RecognizerResult("PERSON", i, i + 7, 0.85)] if i >= 0 else []

    text = "I met Quillon at the park"
    assert Scrubber().find([text], "en", [None]) == [[]]
    found = Scrubber(ner=[TinyNer()]).find([text], "en", [None])[0]
    assert [(f.entity, text[f.start:f.end]) for f in found] == [("NAME", "Quillon")]


def _many(agent_sessions: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame([{"agent_id": a, "session_id": f"{a}-{i:03d}"} for a, n in agent_sessions.items()
                         for i in range(n)])


def test_subsample_caps_busy_agents_seeded():
    df = _many({"busy": 50, "quiet": 3})
    a = subsample_agents(df, 10, seed=0)
    assert a.group_by("agent_id").len().sort("agent_id")["len"].to_list() == [10, 3]
    assert a.equals(subsample_agents(df, 10, seed=0))
    assert not a.equals(subsample_agents(df, 10, seed=1))
    # Adding another busy agent does not change the first agent's sample.
    b = subsample_agents(_many({"busy": 50, "quiet": 3, "other": 40}), 10, seed=0)
    assert set(b.filter(pl.col("agent_id") == "busy")["session_id"]) == set(
        a.filter(pl.col("agent_id") == "busy")["session_id"]
    )
    with pytest.raises(ValueError, match=">= 1"):
        subsample_agents(df, 0, seed=0)


def test_scrub_reports_sessions_dropped_by_cap(scrubber):
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=6, seed=5)
    scrubbed, stats = scrub_sessions(_raw(sessions), ScrubParams(max_sessions_per_agent=4), scrubber)
    assert stats["sessions_dropped_by_cap"] == 4 and scrubbed.height == 8
    assert scrubbed.group_by("agent_id").len()["len"].max() == 4


def test_empty_batch_and_sessions_without_annotations(scrubber):
    empty = _raw([]).clear()
    scrubbed, stats = scrub_sessions(empty, ScrubParams(), scrubber)
    assert scrubbed.height == 0 and stats["utterances"] == 0
    assert schemas.validate(scrubbed, schemas.ScrubbedSession).passed
    bare = {"session_id": "b", "agent_id": "a", "user_id": "u", "user_name": "Li Wei", "language": "en",
            "turns": [{"role": "user", "text": "Li Wei here, call 13812345678"}, {"role": "agent", "text": "hi"}]}
    scrubbed, stats = scrub_sessions(_raw([bare, {**bare, "session_id": "c", "annotations": [
        {"turn_index": 1, "rewritten_text": "hi Li"}]}]), ScrubParams(), scrubber)
    assert scrubbed["annotations"].to_list()[0] == []
    assert scrubbed["annotations"].to_list()[1][0]["rewritten_text"] == "hi [NAME_1]"
    assert [t["text"] for t in scrubbed["turns"][0]] == ["[NAME_1] here, call [PHONE_1]", "hi"]
    assert scrubbed["pii_found"].to_list() == [2, 3] and stats["utterances"] == 5


def test_declared_agent_profile_is_scrubbed_and_checked(scrubber):
    # Values written for this test: a hobby that names a phone number and an e-mail, a clean catchphrase.
    profile = {"catchphrase": "right as rain", "hobby": "texting 07700 900461 or mail pip.ro@mailbox.org"}
    rec = {"session_id": "ps1", "agent_id": "agent_pip", "user_id": "u9", "language": "en",
           "turns": [{"role": "user", "text": "evening!"}, {"role": "agent", "text": "right as rain, evening"}],
           "annotations": [{"turn_index": 1, "rewritten_text": "right as rain 🌧"}], "agent_profile": profile}
    raw = _raw([rec, {**rec, "session_id": "ps2", "agent_profile": None}])
    scrubbed, stats = scrub_sessions(raw, ScrubParams(), scrubber)
    assert schemas.validate(scrubbed, schemas.ScrubbedSession).passed
    out = dict(zip(scrubbed["source_line"], scrubbed["agent_profile"]))  # session ids leave as pseudonyms
    clean = json.loads(out[1])
    assert clean["catchphrase"] == "right as rain" and out[2] is None
    assert "900461" not in clean["hobby"] and "mailbox.org" not in clean["hobby"]
    assert PLACEHOLDER_RE.search(clean["hobby"]) and stats["pii_by_type"]["EMAIL"] >= 1
    assert scrubbed.filter(pl.col("source_line") == 1)["pii_found"][0] >= 2
    assert set(residual_pii(scrubbed).values()) == {0}
    # The independent check reads the profile too: the unscrubbed one fails it.
    leaked = scrubbed.with_columns(agent_profile=pl.lit(json.dumps(profile)))
    assert residual_pii(leaked)["EMAIL"] >= 1
