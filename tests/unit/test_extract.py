"""The persona encoder's pure parts: items, candidate spans, grounding, parsing, caching, scoring."""

from __future__ import annotations

import json
from dataclasses import replace

import polars as pl
import pytest

from tests.support.fake_engine import FakeEngine
from vvae_pipeline import latent
from vvae_pipeline.encode.extract import (
    PROMPT_VERSION,
    ExtractParams,
    build_items,
    build_prompt,
    extract,
    extraction_id,
)
from vvae_pipeline.encode.grounding import (
    NOT_GROUNDED,
    NOT_SHOWN,
    OFF_SCHEMA,
    parse_output,
)
from vvae_pipeline.encode.quality import score
from vvae_pipeline.llm.engines import Result
from vvae_pipeline.schemas import PersonaExtraction, ScrubbedSession, validate


def _turns(*pairs):
    return [{"role": r, "text": t, "ts": None} for r, t in pairs]


def _session(sid, agent, lang, turns, annotations, batch="b1", line=1):
    return {"batch_id": batch, "source_file": f"{batch}.jsonl", "source_line": line, "session_id": sid,
            "agent_id": agent, "user_id": "u_" + sid, "language": lang, "turns": turns,
            "annotations": [{"turn_index": ti, "rewritten_text": x, "annotator_id": "ann"} for ti, x in annotations],
            "x_source": "annotation", "agent_profile": None, "pii_found": 0}


def sessions_frame(rows) -> pl.DataFrame:
    df = pl.DataFrame(rows, schema=ScrubbedSession.to_schema().columns and {
        "batch_id": pl.Utf8, "source_file": pl.Utf8, "source_line": pl.Int64, "session_id": pl.Utf8,
        "agent_id": pl.Utf8, "user_id": pl.Utf8, "language": pl.Utf8,
        "turns": pl.List(pl.Struct({"role": pl.Utf8, "text": pl.Utf8, "ts": pl.Utf8})),
        "annotations": pl.List(pl.Struct({"turn_index": pl.Int64, "rewritten_text": pl.Utf8, "annotator_id": pl.Utf8})),
        "x_source": pl.Utf8, "agent_profile": pl.Utf8, "pii_found": pl.Int64})
    assert validate(df, ScrubbedSession).passed
    return df


EN = _session("s_en", "agent_luna", "en", _turns(
    ("user", "Ugh, work was exhausting today."),
    ("agent", "Hey sunshine, tell me more about the work. no worries at all 🌙"),
    ("user", "My boss [NAME_1] yelled again."),
    ("agent", "Take a deep breath, no worries at all. I spent the evening stargazing, it clears my head."),
    ("user", "thanks"),
), [(5, "Hey sunshine, sleep on it. no worries at all 🌙"), (3, "Take a deep breath 🌙")])
ZH = _session("s_zh", "agent_meimei", "zh", _turns(
    ("user", "今天工作累死了。"),
    ("agent", "哼，笨蛋，跟我说说工作的事吧。"),
    ("user", "老板又骂我了"),
    ("agent", "哼，我昨天又去画画了，特别解压。😤"),
), [(4, "笨蛋，先睡一觉，明天再决定。哼")])


@pytest.fixture
def items():
    df, skipped = build_items(sessions_frame([EN, ZH]))
    assert skipped == {"empty_reply": 0, "turn_index_out_of_range": 0, "duplicate_annotation": 0}
    return df


def test_build_items_context_reply_and_lineage(items):
    assert items.height == 3
    row = items.filter(pl.col("session_id") == "s_en", pl.col("turn_index") == 3).row(0, named=True)
    assert [t["text"] for t in row["context"]] == [t["text"] for t in EN["turns"][:3]]
    assert row["reply"] == "Take a deep breath 🌙"
    assert (row["batch_id"], row["source_file"], row["source_line"]) == ("b1", "b1.jsonl", 1)
    assert row["extraction_id"] == extraction_id("s_en", 3) != extraction_id("s_en", 5)


@pytest.mark.parametrize("ann, reason", [((2, "   "), "empty_reply"), ((9, "hi"), "turn_index_out_of_range"),
                                         ((1, "again"), "duplicate_annotation")])
def test_build_items_skips_bad_annotations_with_a_reason(ann, reason):
    s = _session("s1", "a", "en", _turns(("user", "hi"), ("agent", "hello")), [(1, "hey"), ann])
    df, skipped = build_items(sessions_frame([s]))
    assert df.height == 1 and skipped[reason] == 1


@pytest.mark.parametrize("value, dim, reason", [
    ("oh my god", "catchphrase", NOT_GROUNDED),  # not in the agent's text
    ("🔥", "emoji", NOT_GROUNDED),
    ("bestie", "nickname", NOT_GROUNDED),
    ("grumpy", "tone", OFF_SCHEMA),  # outside the closed set
    ("x" * 41, "topic", OFF_SCHEMA),  # over max_len
])
def test_grounding_nulls_values_with_a_reason(value, dim, reason):
    out = {d: None for d in latent.DIMENSION_NAMES} | {dim: value}
    parsed = parse_output(json.dumps(out), "hey sunshine, no worries at all 🌙", None)
    assert parsed.values[dim] is None and parsed.reasons[dim] == reason
    assert parsed.rejected == ([dim] if reason == NOT_GROUNDED else [])


def test_grounding_keeps_and_normalises_real_values():
    out = {d: None for d in latent.DIMENSION_NAMES} | {"catchphrase": "No Worries At All", "emoji": ":crescent_moon:",
                                                       "tone": "Soft", "relationship": "best friend"}
    parsed = parse_output(json.dumps(out), "Hey sunshine, no worries at all 🌙", None)
    assert parsed.values["catchphrase"] == "no worries at all"
    assert parsed.values["emoji"] == "🌙"
    assert parsed.values["tone"] == "gentle"  # synonym onto the closed set
    assert parsed.values["relationship"] == "close_friend"
    assert parsed.reasons["nickname"] == NOT_SHOWN


def test_constrained_open_value_outside_candidates_is_off_schema():
    out = {d: None for d in latent.DIMENSION_NAMES} | {"hobby": "stargazing"}
    parsed = parse_output(json.dumps(out), "i love stargazing", {"hobby": ["reading"]})
    assert parsed.values["hobby"] is None and parsed.reasons["hobby"] == OFF_SCHEMA


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"catchphrase": "unterminated'])
def test_unparseable_output_is_failed(text):
    parsed = parse_output(text, "anything", None)
    assert not parsed.ok and all(v is None for v in parsed.values.values())


def test_prompt_lists_candidates_and_language(items):
    row = items.filter(pl.col("language") == "zh").row(0, named=True)
    schema = latent.json_schema({"catchphrase": ["哼"], "nickname": ["笨蛋"]})
    msgs = build_prompt(row["context"], row["reply"], "zh", schema, ExtractParams())
    assert msgs[0]["role"] == "system" and "人设" in msgs[0]["content"]
    assert "null | 哼" in msgs[1]["content"] and row["reply"] in msgs[1]["content"]


# The same agent in a second conversation, saying its phrase again: a habit across sessions.
EN_AGAIN = _session("s_en2", "agent_luna", "en", _turns(
    ("user", "I failed the driving test."),
    ("agent", "Oh no. No worries at all, you will pass the next one."),
), [(1, "Oh no. No worries at all, you will pass the next one.")], line=3)


def test_extract_rows_match_contract_and_are_grounded():
    items, _ = build_items(sessions_frame([EN, ZH, EN_AGAIN]))
    df, stats = extract(items, FakeEngine(), ExtractParams())
    assert validate(df, PersonaExtraction).passed
    assert stats["status"] == {"ok": 4, "retried": 0, "failed": 0}
    en = df.filter(pl.col("session_id") == "s_en", pl.col("turn_index") == 5).row(0, named=True)
    assert en["catchphrase"] == "no worries at all" and en["emoji"] == "🌙" and en["nickname"] == "sunshine"
    assert en["prompt_version"] == PROMPT_VERSION and en["engine"] == "fake"
    # Every grounded value occurs in the agent's own text.
    for r in df.iter_rows(named=True):
        agent = " ".join([t["text"] for t in r["context"] if t["role"] == "agent"] + [r["reply"]]).lower()
        for d in ("catchphrase", "emoji", "nickname"):
            assert r[d] is None or r[d] in agent


def test_a_phrase_repeated_inside_one_session_is_no_catchphrase(items):
    """Without the second session the same phrase is what one chat was about, not a habit."""
    df, _ = extract(items, FakeEngine(), ExtractParams())
    en = df.filter(pl.col("session_id") == "s_en", pl.col("turn_index") == 5).row(0, named=True)
    assert en["catchphrase"] is None
    assert json.loads(en["null_reasons"])["catchphrase"] == "no_candidates"


def test_dimensions_the_engine_was_measured_not_to_answer_are_null_without_asking(items, monkeypatch):
    from vvae_pipeline.encode import capabilities

    table = {"engines": {"fake:fake-first-choice": {"dimensions": {
        d: {"answered": d not in ("tone", "vibe", "emoji"), "reason": "test"} for d in latent.DIMENSION_NAMES}}}}
    monkeypatch.setattr(capabilities, "load", lambda *a, **k: table)
    engine = FakeEngine()
    df, stats = extract(items, engine, ExtractParams())
    assert stats["not_answered_by_engine"] == ["emoji", "tone", "vibe"]
    assert df["tone"].null_count() == df["vibe"].null_count() == df["emoji"].null_count() == df.height
    assert all(json.loads(r)["tone"] == "engine_not_capable" for r in df["null_reasons"].to_list())
    # The capability table is the engine's default, not the measurement's: off, every field is asked.
    on, _ = extract(items, FakeEngine(), ExtractParams(use_capabilities=False))
    assert on["tone"].null_count() < on.height and on["emoji"].null_count() < on.height


def test_extract_counts_rejections_failures_and_retries(items):
    bad = {d: None for d in latent.DIMENSION_NAMES} | {"catchphrase": "made up phrase", "tone": "calm"}
    # Item 2 hits the budget twice (first try and the 2x retry): failed. Item 3: all null.
    nulls = json.dumps({d: None for d in latent.DIMENSION_NAMES})
    engine = FakeEngine(script=[Result(json.dumps(bad), "stop"), Result("{", "length"), Result(nulls, "stop"),
                                Result('{"ton', "length")])
    df, stats = extract(items, engine, ExtractParams(batch_size=8))
    assert engine.calls == [3, 1]
    assert sorted(df["status"].to_list()) == ["failed", "ok", "ok"]
    assert stats["status"]["failed"] == 1
    assert stats["off_schema_values"] >= 1  # "made up phrase" is not among the candidates
    reasons = [json.loads(r) for r in df["null_reasons"].to_list()]
    assert any(r.get("catchphrase") == OFF_SCHEMA for r in reasons)
    assert any(set(r.values()) == {"engine_failed"} for r in reasons)


def test_cache_resumes_without_recomputing(items, tmp_path):
    params = ExtractParams(batch_size=2, cache_dir=str(tmp_path))
    crashing = FakeEngine()
    original = crashing._generate

    def crash_on_second_call(prompts, schemas, max_tokens):
        if len(crashing.calls) == 1:
            raise RuntimeError("engine died")
        return original(prompts, schemas, max_tokens)

    crashing._generate = crash_on_second_call
    with pytest.raises(RuntimeError):
        extract(items, crashing, params)  # first chunk of 2 is committed before the crash
    resumed = FakeEngine()
    df1, stats1 = extract(items, resumed, params)
    assert stats1["n_cached"] == 2 and stats1["n_generated"] == 1 and resumed.calls == [1]
    again = FakeEngine()
    df2, stats2 = extract(items, again, params)
    assert again.calls == [] and stats2["n_cached"] == 3
    assert df1.equals(df2)
    other_model = FakeEngine(model="another")  # the model is part of the key
    extract(items, other_model, params)
    assert other_model.calls == [2, 1]


def test_score_precision_recall_and_null_rate():
    keys = {"session_id": ["a", "a", "b", "c"], "turn_index": [1, 3, 1, 1]}
    none = [None] * 4
    truth = pl.DataFrame({**keys, **{d: none for d in latent.DIMENSION_NAMES}}, schema_overrides={
        d: pl.Utf8 for d in latent.DIMENSION_NAMES}).with_columns(
        pl.Series("catchphrase", ["just saying", None, "哼", "let's gooo"]), pl.Series("tone", ["calm"] * 4))
    pred = truth.with_columns(pl.Series("catchphrase", ["Just Saying", "made up", None, "let's gooo"]),
                              pl.Series("tone", ["calm", "calm", "cold", None]))
    result = score(pred, truth)
    cp, tone = result["dimensions"]["catchphrase"], result["dimensions"]["tone"]
    assert (cp["precision"], cp["recall"], cp["null_rate"]) == (round(2 / 3, 4), round(2 / 3, 4), 0.25)
    assert (tone["precision"], tone["recall"], tone["null_rate"]) == (round(2 / 3, 4), 0.5, 0.25)
    assert result["dimensions"]["hobby"]["precision"] is None and result["n_matched"] == 4
    with pytest.raises(ValueError, match="lacks columns"):
        score(pred, truth.drop("hobby"))


def test_length_then_success_is_retried(items):
    engine = FakeEngine(script=[Result('{"catchphrase": ', "length")])
    df, stats = extract(items.head(1), engine, ExtractParams())
    assert engine.calls == [1, 1] and df["status"].to_list() == ["retried"] and stats["status"]["retried"] == 1


def test_fields_without_candidates_are_not_decoded_and_get_a_reason(items):
    from vvae_pipeline.encode.extract import decode_schema
    from vvae_pipeline.encode.grounding import NO_CANDIDATES

    schema = decode_schema({"catchphrase": ["哼"], "emoji": [], "nickname": [], "hobby": [], "topic": []}, True)
    assert set(schema["properties"]) == {"catchphrase", "tone", "relationship", "vibe", "personality"}
    assert schema["required"] == [d for d in latent.DIMENSION_NAMES if d in schema["properties"]]
    prompt = build_prompt([], "哼", "zh", schema, ExtractParams())[1]["content"]
    assert "- emoji" not in prompt and "cheerful" not in prompt  # closed options are left to the grammar
    assert "cheerful" in build_prompt([], "哼", "zh", schema, ExtractParams(show_closed_options=True))[1]["content"]
    plain, _ = build_items(sessions_frame([_session("s0", "a0", "en", _turns(("user", "hi"), ("agent", "hello there.")),
                                                    [(1, "good to see you.")])]))
    engine = FakeEngine()
    df, _ = extract(plain, engine, ExtractParams())
    reasons = json.loads(df["null_reasons"][0])
    assert all(reasons[d] == NO_CANDIDATES for d in ("catchphrase", "emoji", "nickname", "hobby", "topic"))
    assert df["tone"][0] == latent.TONES[0]  # closed fields are still decoded


def test_empty_batch_gives_an_empty_valid_frame():
    items, skipped = build_items(sessions_frame([]))
    df, stats = extract(items, FakeEngine(), ExtractParams())
    assert df.height == 0 and validate(df, PersonaExtraction).passed
    assert stats["n_items"] == 0 and stats["null_rate"]["emoji"] == 1.0


LONG = _session("s_long", "agent_k", "en", _turns(
    ("user", "first " + "x" * 120), ("agent", "second " + "y" * 120), ("user", "third turn"),
    ("agent", "fourth turn, you bet"), ("user", "fifth turn " + "z" * 120),
), [(5, "you bet, sixth turn")])


@pytest.mark.parametrize("change", ["max_context_turns", "max_turn_chars", "show_closed_options", "constrain_open",
                                    "closed_evidence", "max_new_tokens", "prompt_version", "engine", "model_name",
                                    "weights", "decoding"])
def test_cache_misses_when_anything_that_shapes_the_output_changes(change, tmp_path, monkeypatch):
    from vvae_pipeline.encode import extract as ex

    items, _ = build_items(sessions_frame([LONG]))
    weights = tmp_path / "model"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"weights-v1")

    class LocalEngine(FakeEngine):
        def identity(self):
            from vvae_pipeline.llm.engines import weights_fingerprint

            return f"{self.model}|{weights_fingerprint(str(weights))}"

    params = ExtractParams(cache_dir=str(tmp_path / "cache"))
    extract(items, LocalEngine(), params)
    again = LocalEngine()
    extract(items, again, params)
    assert again.calls == []  # same everything: a hit

    engine, new = LocalEngine(), params
    if change in ("max_context_turns", "max_turn_chars", "max_new_tokens"):
        new = replace(params, **{change: getattr(params, change) - 1})
    elif change in ("show_closed_options", "constrain_open", "closed_evidence"):
        new = replace(params, **{change: not getattr(params, change)})
    elif change == "prompt_version":
        monkeypatch.setattr(ex, "PROMPT_VERSION", "persona-test")
    elif change == "engine":
        engine.name = "other-engine"
    elif change == "model_name":
        engine.model = "another-name"
    elif change == "weights":  # same name, new weights: a different model
        (weights / "model.safetensors").write_bytes(b"weights-v2")
    elif change == "decoding":
        engine.retry_factor = 3
    extract(items, engine, new)
    assert engine.calls == [1], change


def test_a_declared_value_that_x_shows_is_a_candidate(items):
    """Said in one session only, the phrase is no habit; declared by the platform and shown in x, it is."""
    declared = {"agent_luna": dict.fromkeys(latent.DIMENSION_NAMES) | {"catchphrase": "No worries at all",
                                                                      "hobby": "sailing"}}
    df, _ = extract(items, FakeEngine(), ExtractParams(), declared=declared)
    en = df.filter(pl.col("session_id") == "s_en", pl.col("turn_index") == 5).row(0, named=True)
    assert en["catchphrase"] == "no worries at all"
    assert en["hobby"] != "sailing"  # declared, but x does not show it


def test_the_generation_timer_leaves_the_planning_out(items, monkeypatch):
    """stats["seconds"] and items_per_s time generate_cached only, not the candidate search before it."""
    import time

    from vvae_pipeline.encode import extract as extract_module

    slow_planning = extract_module.batch_evidence

    def batch_evidence(rows):
        time.sleep(0.5)
        return slow_planning(rows)

    monkeypatch.setattr(extract_module, "batch_evidence", batch_evidence)
    _, stats = extract(items, FakeEngine(), ExtractParams())
    assert stats["n_generated"] == 3 and stats["seconds"] < 0.5
