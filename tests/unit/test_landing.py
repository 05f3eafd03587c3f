"""Landing: every record read is accepted or quarantined with a clear, value-free reason."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from vvae_pipeline import schemas
from vvae_pipeline.ingest import landing, session_schema

REPO = Path(__file__).resolve().parents[2]


def session(sid="s1", **over):
    rec = {
        "session_id": sid,
        "agent_id": "a1",
        "user_id": "u1",
        "agent_name": "Luna",
        "user_name": "Emily Carter",
        "language": "en",
        "turns": [
            {"role": "user", "text": "hi there"},
            {"role": "agent", "text": "hello!", "ts": "2026-01-01T00:00:00Z"},
        ],
        "annotations": [{"turn_index": 1, "rewritten_text": "hey you!", "annotator_id": "ann_1"}],
    }
    rec.update(over)
    return rec


def write_jsonl(path: Path, lines: list) -> Path:
    out = b""
    for line in lines:
        out += (line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode()) + b"\n"
    path.write_bytes(out)
    return path


def test_package_schema_is_the_documented_one():
    assert json.loads((REPO / "docs" / "session.schema.json").read_text()) == json.loads(
        landing.SCHEMA_PATH.read_text()
    )


def test_good_file_is_accepted_and_matches_contract(tmp_path):
    p = write_jsonl(tmp_path / "b.jsonl", [session("s1"), session("s2", language="zh", x_source="original_reply")])
    raw, q, stats = landing.read_landed_file(p, "b-1")
    assert stats["read"] == 2 and stats["accepted"] == 2 and q.height == 0
    assert schemas.validate(raw, schemas.RawSession).passed
    assert raw["x_source"].to_list() == ["annotation", "original_reply"]
    assert raw["source_line"].to_list() == [1, 2]
    assert raw["turns"][0][1]["ts"] == "2026-01-01T00:00:00Z"
    assert raw["turns"][0][0]["ts"] is None
    assert raw["annotations"][0].to_list() == [{"turn_index": 1, "rewritten_text": "hey you!", "annotator_id": "ann_1"}]
    assert raw["agent_name"][0] == "Luna" and raw["user_name"][0] == "Emily Carter"


def test_integral_float_turn_index_is_an_integer(tmp_path):
    # JSON Schema (and both validators) count 1.0 as an integer; the table stores 1.
    p = write_jsonl(tmp_path / "b.jsonl", [session("s1", annotations=[{"turn_index": 1.0, "rewritten_text": "yo"}])])
    raw, q, _ = landing.read_landed_file(p, "b-1")
    assert q.height == 0 and raw["annotations"][0][0]["turn_index"] == 1


BAD = [
    (b'{"session_id": "s9", "agent_id": "a1", "user_id"', "truncated JSON"),
    (b'{"session_id": "s9",, }', "invalid JSON"),
    (b'{"session_id": "caf\xc3\x28"}', "invalid UTF-8"),
    (session("s9", turns="not a list"), "schema: wrong type: turns"),
    (session("s9", agent_id=7), "schema: wrong type: agent_id"),
    ({k: v for k, v in session("s9").items() if k != "user_id"}, "schema: missing field: user_id"),
    (session(""), "schema: empty: session_id"),
    (session("s9", turns=[{"role": "user", "text": "   "}]), "schema: blank: turns[0].text"),
    (session("s9", turns=[{"role": "user", "text": "x" * 9000}]), "schema: too long: turns[0].text"),
    (session("s9", turns=[]), "schema: empty list: turns"),
    (session("s9", language="fr"), "schema: not allowed: language"),
    (session("s9", annotations=[{"turn_index": 5, "rewritten_text": "x"}]), "annotation points at a missing turn"),
    (session("s9", annotations=[{"turn_index": 0, "rewritten_text": "x"}]), "annotation points at a user turn"),
    (b'{"session_id": "s9", "agent_id": "a", "user_id": "u", "language": "en", '
     b'"turns": [{"role": "user", "text": "\\ud800"}]}', "invalid unicode"),
    (b"[1, 2, 3]", "schema: wrong type: record"),
]


@pytest.mark.parametrize("line,reason", BAD, ids=[r for _, r in BAD])
def test_bad_record_is_quarantined_with_reason(tmp_path, line, reason):
    p = write_jsonl(tmp_path / "b.jsonl", [session("ok"), line])
    raw, q, stats = landing.read_landed_file(p, "b-1")
    assert raw["session_id"].to_list() == ["ok"]
    assert q.height == 1 and q["source_line"][0] == 2
    assert q["reason"][0].startswith(reason), q["reason"][0]
    assert q["record"][0]  # the raw record is kept so nothing is lost
    assert stats["read"] == stats["accepted"] + stats["quarantined"] == 2
    assert schemas.validate(q, schemas.QuarantineRow).passed


def test_reasons_carry_no_record_values(tmp_path):
    secret = "13812345678"
    p = write_jsonl(tmp_path / "b.jsonl", [session("s1", agent_id=int(secret)), session("s2", language=secret)])
    _, q, _ = landing.read_landed_file(p, "b-1")
    assert q.height == 2 and not any(secret in r for r in q["reason"])


def test_truncated_last_line_without_newline(tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_bytes(json.dumps(session("s1")).encode() + b"\n" + json.dumps(session("s2")).encode()[:40])
    raw, q, stats = landing.read_landed_file(p, "b-1")
    assert raw.height == 1 and q["reason"][0].startswith("truncated JSON") and stats["read"] == 2


def test_duplicates_keep_latest_and_quarantine_the_rest(tmp_path):
    p = write_jsonl(tmp_path / "b.jsonl", [session("d", user_id="old"), b"", session("x"),
                                          session("d", user_id="mid"), session("d", user_id="new")])
    raw, q, stats = landing.read_landed_file(p, "b-1")
    assert sorted(raw["session_id"].to_list()) == ["d", "x"]
    assert raw.filter(pl.col("session_id") == "d")["user_id"][0] == "new"
    assert q["source_line"].to_list() == [1, 4]
    assert q["reason"].to_list() == ["duplicate session_id: superseded by line 4",
                                     "duplicate session_id: superseded by line 5"]
    assert stats == {"read": 4, "accepted": 2, "quarantined": 2, "blank_lines": 1,
                     "quarantine_reasons": {"duplicate session_id": 2}}


def test_parquet_landing(tmp_path):
    recs = [session("p1"), session("p2", x_source="original_reply", annotations=[])]
    df = pl.DataFrame([{**r, "x_source": r.get("x_source")} for r in recs])
    df.write_parquet(tmp_path / "b.parquet")
    raw, q, stats = landing.read_landed_file(tmp_path / "b.parquet", "b-2")
    assert stats["accepted"] == 2 and q.height == 0
    assert raw["x_source"].to_list() == ["annotation", "original_reply"]
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    raw, q, stats = landing.read_landed_file(tmp_path / "bad.parquet", "b-3")
    assert raw.height == 0 and q["source_line"].to_list() == [0] and stats["read"] == 1
    assert q["reason"][0].startswith("unreadable Parquet file")


def test_batch_key_is_sanitised_and_content_addressed(tmp_path):
    a = write_jsonl(tmp_path / "Demo Batch.2026!.jsonl", [session("s1")])
    key = landing.batch_key(a)
    assert key.startswith("demo-batch-2026-") and len(key.rsplit("-", 1)[1]) == 12
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-")
    b = write_jsonl(tmp_path / "other.jsonl", [session("s1")])
    assert key.rsplit("-", 1)[1] == landing.batch_key(b).rsplit("-", 1)[1]  # same content, same hash
    write_jsonl(b, [session("s2")])
    assert landing.batch_key(b).rsplit("-", 1)[1] != key.rsplit("-", 1)[1]


def test_list_and_find(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", [session("s1")])
    (tmp_path / ".in-flight.jsonl").write_text("{}")
    (tmp_path / "notes.txt").write_text("hi")
    listed = landing.list_landed(tmp_path)
    assert [p.name for _, p in listed] == ["b.jsonl"]
    assert landing.find_batch_file(tmp_path, listed[0][0]) == tmp_path / "b.jsonl"
    with pytest.raises(FileNotFoundError, match="batch key"):
        landing.find_batch_file(tmp_path, "b-000000000000")
    assert landing.list_landed(tmp_path / "missing") == []


def _mutations(rng):
    """Valid sessions and single mutations of them: every rule of the schema, and type swaps."""
    junk = [None, True, 0, 1.5, -1, 1.0, "", " ", "x" * 201, "x" * 8001, [], {}, ["a"], {"a": 1}, "en", "agent"]
    base = session("s", x_source="original_reply", agent_profile={"catchphrase": "okie dokie", "hobby": None})
    paths = [
        ("session_id",),
        ("agent_id",),
        ("user_id",),
        ("agent_name",),
        ("user_name",),
        ("language",),
        ("x_source",),
        ("turns",),
        ("annotations",),
        ("turns", 0),
        ("turns", 0, "role"),
        ("turns", 0, "text"),
        ("turns", 1, "ts"),
        ("annotations", 0),
        ("annotations", 0, "turn_index"),
        ("annotations", 0, "rewritten_text"),
        ("annotations", 0, "annotator_id"),
        ("extra",),
        ("turns", 0, "extra"),
        ("agent_profile",),
        ("agent_profile", "catchphrase"),
        ("agent_profile", "hobby"),
        ("agent_profile", "extra"),
    ]
    yield base
    for _ in range(3000):
        rec = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 2)):
            path = rng.choice(paths)
            target = rec
            try:
                for p in path[:-1]:
                    target = target[p]
                if rng.random() < 0.2 and isinstance(target, dict):
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = rng.choice(junk)
            except (KeyError, IndexError, TypeError):
                pass
        yield rec


def test_fast_validator_agrees_with_jsonschema():
    import random

    validator = session_schema._validator()
    n_valid = n = 0
    for rec in _mutations(random.Random(0)):
        expected = not any(True for _ in validator.iter_errors(rec))
        assert session_schema.schema_valid(rec) == expected, rec
        n_valid += expected
        n += 1
    assert n > 3000 and 50 < n_valid < n - 1000  # both outcomes well represented


def test_enormous_line_and_double_annotation(tmp_path):
    huge = session("big", turns=[{"role": "user", "text": "y" * 7000}] * 160)  # ~1.1 MB on one line
    double = session(
        "dbl", annotations=[{"turn_index": 1, "rewritten_text": "a"}, {"turn_index": 1, "rewritten_text": "b"}]
    )
    p = write_jsonl(tmp_path / "b.jsonl", [huge, double, session("ok")])
    raw, q, stats = landing.read_landed_file(p, "b-1")
    assert raw["session_id"].to_list() == ["ok"] and stats["read"] == 3
    assert q["reason"][0].startswith("record too large") and q["record"][0] == json.dumps(huge)  # kept whole
    assert q["reason"][1] == "two annotations for one turn: annotations[1].turn_index=1"


def test_declared_agent_profile_lands_as_canonical_json(tmp_path):
    ok = session("p1", agent_profile={"hobby": "kite surfing", "catchphrase": "okie dokie", "emoji": None})
    bad_key = session("p2", agent_profile={"favourite_colour": "teal"})
    blank = session("p3", agent_profile={"hobby": "   "})
    none = session("p4", agent_profile=None)
    raw, q, stats = landing.read_landed_file(write_jsonl(tmp_path / "p.jsonl", [ok, bad_key, blank, none]), "p-1")
    assert stats["read"] == stats["accepted"] + stats["quarantined"] == 4
    profiles = dict(zip(raw["session_id"].to_list(), raw["agent_profile"].to_list()))
    # Dimension order, nulls left out; no profile is null.
    assert profiles == {"p1": '{"catchphrase": "okie dokie", "hobby": "kite surfing"}', "p4": None}
    assert sorted(q["reason"].to_list()) == ["schema: blank: agent_profile.hobby",
                                             "schema: unknown field at agent_profile: favourite_colour"]
    assert schemas.validate(raw, schemas.RawSession).passed
