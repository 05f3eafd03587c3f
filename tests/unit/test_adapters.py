"""Adapters on small slices of the real corpora in ../shared/data: every session they produce is
accepted by the landing reader as is, x is the agent's own reply, and each corpus's roles are right."""

import json

import polars as pl
import pytest

from vvae_pipeline import schemas
from vvae_pipeline.ingest.adapters import read_sessions, write_jsonl
from vvae_pipeline.ingest.adapters.convai2 import read_profiles
from vvae_pipeline.ingest.adapters.cped import read_traits
from vvae_pipeline.ingest.adapters.dailydialog import detokenize
from vvae_pipeline.ingest.adapters.lccc import despace
from vvae_pipeline.ingest.landing import read_landed_file

CORPORA = [("dailydialog", "dailydialog_en", "en"), ("lccc", "lccc_toy_zh", "zh"), ("cped", "cped_zh", "zh"),
           ("convai2", "convai2_wild_en", "en")]


@pytest.mark.parametrize("corpus,folder,language", CORPORA)
def test_corpus_lands_without_quarantine(shared_data, tmp_path, corpus, folder, language):
    sessions = read_sessions(corpus, shared_data / folder, limit=40)
    assert len(sessions) == 40
    path = tmp_path / f"{corpus}.jsonl"
    assert write_jsonl(sessions, path) == 40
    raw, quarantine, stats = read_landed_file(path, f"{corpus}-0")
    assert quarantine.height == 0 and stats["accepted"] == 40
    assert schemas.validate(raw, schemas.RawSession).passed
    assert set(raw["language"]) == {language} and set(raw["x_source"]) == {"original_reply"}
    for s in sessions:
        assert s["annotations"], "every session has at least one x"
        for a in s["annotations"]:  # x is the agent's original reply
            assert s["turns"][a["turn_index"]]["role"] == "agent"
            assert a["rewritten_text"] == s["turns"][a["turn_index"]]["text"]


def test_dailydialog_alternates_and_detokenizes(shared_data):
    s = read_sessions("dailydialog", shared_data / "dailydialog_en", split="test", limit=1)[0]
    first = (shared_data / "dailydialog_en/test/dialogues_test.txt").read_text(encoding="utf-8").splitlines()[0]
    n = len([u for u in first.split("__eou__") if u.strip()])
    assert len(s["turns"]) == n and [t["role"] for t in s["turns"][:3]] == ["user", "agent", "user"]
    assert s["turns"][0]["text"] == "Hey man, you wanna buy some weed?"
    assert detokenize("I ’ ll go , ok ? It isn ' t") == "I’ll go, ok? It isn't"
    assert len(s["annotations"]) == n // 2
    assert len(read_sessions("dailydialog", shared_data / "dailydialog_en", limit=3, max_annotations=1)[0]
               ["annotations"]) == 1


def test_lccc_removes_character_spacing(shared_data):
    dialogs = json.loads((shared_data / "lccc_toy_zh/toy_data.json").read_text(encoding="utf-8"))["test"]
    s = read_sessions("lccc", shared_data / "lccc_toy_zh", split="test", limit=1)[0]
    assert s["turns"][0]["text"] == dialogs[0][0].replace(" ", "") and " " not in s["turns"][0]["text"]
    assert despace("哦 啦 ～ 三 亚 玩 得 h a p p y 不 ？") == "哦啦～三亚玩得happy不？"


def test_cped_one_agent_per_character_with_traits(shared_data):
    sessions = read_sessions("cped", shared_data / "cped_zh", limit=60)
    by_agent: dict[str, set] = {}
    for s in sessions:
        by_agent.setdefault(s["agent_id"], set()).add(s["agent_name"])
        assert sum(t["role"] == "agent" for t in s["turns"]) >= 2
        assert s["agent_name"] not in (s.get("user_name") or "").split("、")
    # The same character keeps one agent id across scenes (and no id is shared by two characters).
    assert all(len(names) == 1 for names in by_agent.values())
    assert len({s["session_id"] for s in sessions}) == len(sessions)
    assert any(len({s["agent_id"] for s in sessions if s["session_id"].startswith(p)}) > 1
               for p in {s["session_id"].rsplit("-", 1)[0] for s in sessions})  # scenes yield one session per speaker
    traits = read_traits(shared_data / "cped_zh")
    row = traits.filter(pl.col("agent_id") == sessions[0]["agent_id"]).row(0, named=True)
    assert row["agent_name"] == sessions[0]["agent_name"] and row["extraversion"] in ("high", "low")


def test_convai2_bot_is_the_agent_with_its_profile(shared_data):
    sessions = read_sessions("convai2", shared_data / "convai2_wild_en", part="volunteers", limit=30)
    raw = json.loads((shared_data / "convai2_wild_en/data_volunteers.json").read_text(encoding="utf-8"))
    assert all(s["agent_id"].startswith("convai2-bot-") and s["user_id"].startswith("convai2-user-") for s in sessions)
    i = int(sessions[0]["session_id"].rsplit("-", 1)[1])
    bot_texts = [t["text"].strip() for t in raw[i]["dialog"] if t["sender_class"] == "Bot" and t["text"].strip()]
    assert [t["text"] for t in sessions[0]["turns"] if t["role"] == "agent"] == bot_texts
    profiles = read_profiles(shared_data / "convai2_wild_en", part="volunteers")
    assert profiles.filter(pl.col("session_id") == sessions[0]["session_id"])["bot_profile"][0].to_list() == \
        raw[i]["bot_profile"]


def test_unknown_corpus_or_split_is_a_clear_error(shared_data):
    with pytest.raises(ValueError, match="unknown corpus"):
        read_sessions("reddit", shared_data)
    with pytest.raises(ValueError, match="split must be one of"):
        read_sessions("lccc", shared_data / "lccc_toy_zh", split="dev")
