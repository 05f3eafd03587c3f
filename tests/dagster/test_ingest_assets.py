"""raw_sessions / raw_sessions_quarantine / scrubbed_sessions materialized through Dagster with the
real storage resource and IO manager on a temp VVAE_HOME."""

import json

import dagster as dg
import polars as pl

from assets.ingest import ingest_batch, scrubbed_sessions
from assets.partitions import BATCH_PARTITIONS_NAME
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource
from vvae_pipeline.ingest.demo import generate_demo
from vvae_pipeline.ingest.landing import batch_key
from vvae_pipeline.scrub.pseudonyms import pseudonym


def _land(home, sessions, extra_lines=(), name="demo-7.jsonl"):
    landing = home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / name
    body = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sessions) + "".join(
        line + "\n" for line in extra_lines
    )
    path.write_text(body, encoding="utf-8")
    return path


def _materialize(home, key, selection=None, run_config=None, raise_on_error=True):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [key])
    return dg.materialize([ingest_batch, scrubbed_sessions], partition_key=key, instance=instance,
                          selection=selection, run_config=run_config, raise_on_error=raise_on_error,
                          resources={"storage": StorageResource(home=str(home)),
                                     "io_manager": ParquetIOManager(home=str(home)),
                                     "pseudonyms": PseudonymKeyResource(key="test-key")})


def _checks(result) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.to_user_string(), e.check_name): e.passed
            for e in result.get_asset_check_evaluations()}


def _all_metadata_text(result) -> str:
    out = []
    for ev in result.all_events:
        data = ev.event_specific_data
        md = getattr(getattr(data, "materialization", None), "metadata", None) or getattr(data, "metadata", None)
        if md:
            out.append(json.dumps({k: str(v) for k, v in md.items()}, ensure_ascii=False))
        if ev.message:
            out.append(ev.message)
    return "\n".join(out)


def test_batch_is_ingested_quarantined_and_scrubbed(tmp_path):
    sessions, _ = generate_demo(n_agents=6, sessions_per_agent=3, seed=7, pii_rate=0.8)
    bad = ['{"session_id": "cut", "agent_id": "a"', json.dumps({**sessions[0], "turns": []})]
    path = _land(tmp_path, sessions, bad)
    key = batch_key(path)
    result = _materialize(
        tmp_path, key, run_config={"ops": {"scrubbed_sessions": {"config": {"max_sessions_per_agent": 2}}}}
    )
    assert result.success
    checks = _checks(result)
    assert checks == {("raw_sessions", "records_accounted_for"): True, ("raw_sessions", "schema"): True,
                      ("raw_sessions_quarantine", "schema"): True, ("scrubbed_sessions", "no_pii"): True,
                      ("scrubbed_sessions", "schema"): True}

    storage = StorageResource(home=str(tmp_path))
    raw = pl.read_parquet(storage.table_path("raw_sessions", key))
    quarantine = pl.read_parquet(storage.table_path("raw_sessions_quarantine", key))
    scrubbed = pl.read_parquet(storage.table_path("scrubbed_sessions", key))
    # sessions[0] appears twice (line 1 and the bad line 20): the later, invalid one is quarantined and
    # the valid earlier one stays accepted.
    assert raw.height == 18 and quarantine.height == 2
    assert sorted(quarantine["source_line"].to_list()) == [19, 20]
    assert set(raw["batch_id"]) == {key} and set(raw["source_file"]) == {"demo-7.jsonl"}
    # The per-agent cap (2 of 3 sessions per agent) applies in the scrub stage.
    assert scrubbed.height == 12 and scrubbed.group_by("agent_id").len()["len"].max() == 2
    blob = scrubbed.write_json()
    for name in set(raw["user_name"]) | {"11010519491231002X", "4111 1111 1111 1111", "@example.com"}:
        assert name not in blob
    assert scrubbed["pii_found"].sum() > 0

    md = result.asset_materializations_for_node("scrubbed_sessions")[0].metadata
    assert md["pii_total"].value == scrubbed["pii_found"].sum()
    # Nothing pre-scrub in any event metadata or log message of the run.
    text = _all_metadata_text(result)
    assert "pii_email" in text
    for secret in set(raw["user_name"]) | {"11010519491231002X", "example.com", "漕溪北路", "Maple Street"}:
        assert secret not in text, secret


def test_missing_batch_file_is_a_clear_error(tmp_path):
    result = _materialize(tmp_path, "gone-000000000000", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    assert error.cause.cls_name == "FileNotFoundError"
    assert "batch key 'gone-000000000000'" in error.cause.message


def test_unreadable_everything_still_accounts_for_every_record(tmp_path):
    path = _land(tmp_path, [], ["not json", '{"session_id": 1}', "\ufffd garbage"], name="junk.jsonl")
    key = batch_key(path)
    result = _materialize(
        tmp_path, key, selection=[dg.AssetKey("raw_sessions"), dg.AssetKey("raw_sessions_quarantine")]
    )
    assert result.success
    checks = _checks(result)
    assert checks[("raw_sessions", "records_accounted_for")] and checks[("raw_sessions", "schema")]
    md = result.asset_materializations_for_node("ingest_batch")
    by_key = {m.asset_key.to_user_string(): m.metadata for m in md}
    assert by_key["raw_sessions"]["read"].value == 3 and by_key["raw_sessions"]["accepted"].value == 0
    assert by_key["raw_sessions_quarantine"]["reasons"].value == {"invalid JSON": 2, "schema": 1}


def test_agent_names_can_be_kept(tmp_path):
    sessions, _ = generate_demo(n_agents=6, sessions_per_agent=1, seed=8, pii_rate=0.5)
    for s in sessions:  # the agent's display name in its own line
        s["turns"][1]["text"] = f"{s['agent_name']} here. " + s["turns"][1]["text"]
    key = batch_key(_land(tmp_path, sessions))
    result = _materialize(
        tmp_path, key, run_config={"ops": {"scrubbed_sessions": {"config": {"scrub_agent_names": False}}}}
    )
    assert result.success and all(_checks(result).values())
    scrubbed = pl.read_parquet(StorageResource(home=str(tmp_path)).table_path("scrubbed_sessions", key))
    second = {row["session_id"]: row["turns"][1]["text"] for row in scrubbed.iter_rows(named=True)}
    # Every agent's own display name stays, even those the cue-free name detectors flag (Iris, 老陈).
    kept = {s["agent_name"] for s in sessions
            if second[pseudonym("session", s["session_id"], "test-key")].startswith(f"{s['agent_name']} here.")}
    assert kept == {s["agent_name"] for s in sessions}, kept


def test_residual_check_fails_when_a_scrubber_recognizer_is_missing(tmp_path, monkeypatch):
    # The scrubber without its e-mail recognizer: the independent residual detector still sees the
    # e-mails, so no_pii fails (reported as a failed evaluation) and no scrubbed table is written.
    import vvae_pipeline.scrub.engine as engine

    real = engine.recognizers_for
    monkeypatch.setattr(engine, "recognizers_for", lambda lang, exclude=(): real(lang, (*exclude, "EMAIL")))
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=2, seed=3, pii_rate=1.0)
    sessions[0]["turns"][0]["text"] = "我的邮箱是zhou.yan@qq.com，记得发我"
    key = batch_key(_land(tmp_path, sessions))
    result = _materialize(tmp_path, key, raise_on_error=False)
    assert not result.success
    assert _checks(result)[("scrubbed_sessions", "no_pii")] is False
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_pii")
    assert evaluation.metadata["residual_email"].value >= 1
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "scrubbed_sessions"
    assert "still holds PII" in failure.event_specific_data.error.to_string()
    assert not StorageResource(home=str(tmp_path)).table_path("scrubbed_sessions", key).exists()
    assert "zhou.yan" not in _all_metadata_text(result)


def test_ids_leave_the_scrub_stage_as_stable_keyed_pseudonyms(tmp_path):
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=2, seed=5)
    storage = StorageResource(home=str(tmp_path))
    tables = []
    for name in ("a.jsonl", "b.jsonl"):  # the same sessions in two batches
        key = batch_key(_land(tmp_path, sessions, name=name))
        assert _materialize(tmp_path, key).success
        tables.append(pl.read_parquet(storage.table_path("scrubbed_sessions", key)))
    raw_ids = {s[c] for s in sessions for c in ("user_id", "agent_id", "session_id")}
    for t in tables:
        ids = set(t["user_id"]) | set(t["agent_id"]) | set(t["session_id"])
        assert not ids & raw_ids and all(len(i) == 32 for i in ids)
    assert (
        tables[0].sort("source_line")["session_id"].to_list() == tables[1].sort("source_line")["session_id"].to_list()
    )
    assert tables[0]["agent_id"].n_unique() == 2
