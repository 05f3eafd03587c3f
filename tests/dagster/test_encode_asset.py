"""persona_extractions as Dagster runs it: io manager input, resources, metadata, quality, cache."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import polars as pl
import pytest

from assets.encode import persona_extractions
from assets.partitions import BATCH_PARTITIONS_NAME
from resources.llm import EncoderResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.schemas import PersonaExtraction, validate
from vvae_pipeline.scrub.pseudonyms import DEV_KEY, pseudonym, pseudonymize

BATCH = "b-2026-11-23"
TURNS = [
    {"role": "user", "text": "Ugh, work was exhausting today. I'm [NAME_1] btw", "ts": None},
    {"role": "agent", "text": "Hey sunshine, tell me more. no worries at all 🌙", "ts": None},
    {"role": "user", "text": "my boss yelled again", "ts": None},
    {"role": "agent", "text": "Take a deep breath. no worries at all", "ts": None},
]


def _scrubbed() -> pl.DataFrame:
    ann = pl.Struct({"turn_index": pl.Int64, "rewritten_text": pl.Utf8, "annotator_id": pl.Utf8})
    turn = pl.Struct({"role": pl.Utf8, "text": pl.Utf8, "ts": pl.Utf8})
    return pl.DataFrame(
        {
            "batch_id": [BATCH] * 2,
            "source_file": ["demo.jsonl"] * 2,
            "source_line": [1, 2],
            "session_id": ["s1", "s2"],
            "agent_id": ["agent_luna", "agent_luna"],
            "user_id": ["u1", "u2"],
            "language": ["en", "en"],
            "turns": [TURNS, TURNS[:2]],
            "annotations": [
                [
                    {"turn_index": 3, "rewritten_text": "Hey sunshine, no worries at all 🌙", "annotator_id": "a"},
                    {"turn_index": 1, "rewritten_text": "Hi! 🌙", "annotator_id": "a"},
                ],
                [
                    {
                        "turn_index": 1,
                        "rewritten_text": "Hey sunshine, sleep on it. no worries at all",
                        "annotator_id": "a",
                    }
                ],
            ],
            "x_source": ["annotation"] * 2,
            "pii_found": [1, 0],
        },
        schema_overrides={"turns": pl.List(turn), "annotations": pl.List(ann)},
    )


class _Endpoint:
    """OpenAI-compatible server that picks the first non-null choice of each field in the schema."""

    def __init__(self):
        self.n_requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.n_requests += 1
                props = body["response_format"]["json_schema"]["schema"]["properties"]
                obj = {k: next((v for v in p.get("enum", []) if v is not None), None) for k, p in props.items()}
                data = json.dumps({"choices": [{"message": {"content": json.dumps(obj)},
                                                "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint():
    ep = _Endpoint()
    yield ep
    ep.httpd.shutdown()


def _materialize(home, encoder, instance, truth=None):
    storage = StorageResource(home=str(home))
    upstream = dg.AssetSpec("scrubbed_sessions", partitions_def=persona_extractions.partitions_def)
    config = {"ops": {"persona_extractions": {"config": {"truth_path": str(truth)}}}} if truth else None
    return dg.materialize(
        [upstream, persona_extractions], selection=[persona_extractions], partition_key=BATCH, instance=instance,
        resources={"storage": storage, "io_manager": ParquetIOManager(home=str(home)), "encoder": encoder,
                   "pseudonyms": PseudonymKeyResource()},
        run_config=config,
    )


def test_persona_extractions_asset(tmp_path, endpoint, monkeypatch):
    monkeypatch.setenv("VVAE_ENCODER_TEST_KEY", "sk-not-in-metadata")
    storage = StorageResource(home=str(tmp_path))
    storage.table_path("scrubbed_sessions", BATCH).parent.mkdir(parents=True)
    # As the scrub stage writes it: session ids as pseudonyms under the (development) key.
    pseudonymize(_scrubbed(), DEV_KEY, {"session_id": "session"}).write_parquet(
        storage.table_path("scrubbed_sessions", BATCH))
    # The demo generator's truth: s1 turn 3 truly shows the catchphrase, nickname and emoji.
    truth = pl.DataFrame(
        {
            "session_id": ["s1", "s1", "s2"],
            "turn_index": [3, 1, 1],
            "agent_id": ["agent_luna"] * 3,
            "language": ["en"] * 3,
            **{d: [None] * 3 for d in DIMENSION_NAMES},
        },
        schema_overrides={d: pl.Utf8 for d in DIMENSION_NAMES},
    )
    truth = truth.with_columns(pl.Series("catchphrase", ["no worries at all", None, "no worries at all"]),
                               pl.Series("nickname", ["sunshine", None, "sunshine"]))
    (tmp_path / "demo").mkdir()
    truth.write_parquet(tmp_path / "demo" / "truth.parquet")

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [BATCH])
    # The endpoint picks the first choice of each enum: keep the candidate lists (a small encoder's setting).
    encoder = EncoderResource(engine="openai", base_url=endpoint.url, model="served",
                              api_key=dg.EnvVar("VVAE_ENCODER_TEST_KEY"), constrain_open=True)
    # The truth file exists, but no run config names it: nothing is scored.
    unscored = _materialize(tmp_path, encoder, instance)
    assert unscored.success and endpoint.n_requests == 3
    assert "quality" not in unscored.asset_materializations_for_node("persona_extractions")[0].metadata
    assert not (storage.artifact_dir("persona_extractions", BATCH) / "quality.json").exists()

    result = _materialize(tmp_path, encoder, instance, truth=tmp_path / "demo" / "truth.parquet")
    assert result.success and endpoint.n_requests == 3  # every output from the cache

    df = pl.read_parquet(storage.table_path("persona_extractions", BATCH))
    assert validate(df, PersonaExtraction).passed and df.height == 3
    row = df.filter(pl.col("session_id") == pseudonym("session", "s1", DEV_KEY), pl.col("turn_index") == 3).row(
        0, named=True
    )
    assert (row["catchphrase"], row["nickname"], row["emoji"]) == ("no worries at all", "sunshine", "🌙")
    assert row["engine"] == "openai" and row["model"] == "served" and row["batch_id"] == BATCH

    mat = result.asset_materializations_for_node("persona_extractions")[0]
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["status_counts"] == {"ok": 3, "retried": 0, "failed": 0}
    assert set(meta["null_rate"]) == set(DIMENSION_NAMES)
    assert meta["quality"]["catchphrase"] == {
        "precision": 1.0,
        "recall": 1.0,
        "null_rate": pytest.approx(1 / 3, abs=1e-3),
    }
    assert "sk-not-in-metadata" not in repr(meta)  # every value, the column schema (a record) included
    quality = json.loads((storage.artifact_dir("persona_extractions", BATCH) / "quality.json").read_text())
    assert quality["dimensions"]["nickname"]["recall"] == 1.0 and quality["n_matched"] == 3

    # A re-run finds every output in the cache: no request reaches the endpoint.
    again = _materialize(tmp_path, encoder, instance, truth=tmp_path / "demo" / "truth.parquet")
    assert again.success and endpoint.n_requests == 3
    meta2 = again.asset_materializations_for_node("persona_extractions")[0].metadata
    assert meta2["cached_items"].value == 3 and meta2["generated_items"].value == 0


def test_agent_profiles_asset_reads_every_batch_and_checks_its_contract(tmp_path):
    from assets.encode import agent_profiles, agent_profiles_checks

    storage = StorageResource(home=str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    batches = ["b1", "b2"]
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, batches)
    for i, b in enumerate(batches):
        rows = [{"agent_id": "agent_k", "language": "en", "status": "ok",
                 **{d: None for d in DIMENSION_NAMES}, "emoji": "🙃", "tone": "calm" if i else "cold"}]
        df = pl.DataFrame(rows, schema_overrides={d: pl.Utf8 for d in DIMENSION_NAMES})
        storage.table_path("persona_extractions", b).parent.mkdir(parents=True, exist_ok=True)
        df.write_parquet(storage.table_path("persona_extractions", b))
    upstream = dg.AssetSpec("persona_extractions", partitions_def=persona_extractions.partitions_def)
    result = dg.materialize([upstream, agent_profiles, agent_profiles_checks], selection=[agent_profiles],
                            instance=instance, resources={"storage": storage,
                                                          "io_manager": ParquetIOManager(home=str(tmp_path))})
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.check_name for c in checks] == ["agent_profile_contract", "no_pii_in_values"]
    assert all(c.passed for c in checks)
    prof = pl.read_parquet(storage.table_path("agent_profiles"))
    emoji = prof.filter(pl.col("dimension") == "emoji").row(0, named=True)
    assert (emoji["value"], emoji["count"], emoji["n_extractions"]) == ("🙃", 2, 2)


def test_prompt_settings_follow_the_engine_unless_set():
    assert EncoderResource(engine="transformers").prompt_defaults() == {"constrain_open": True,
                                                                        "show_closed_options": False}
    assert EncoderResource(engine="vllm").prompt_defaults() == {"constrain_open": False, "show_closed_options": True}
    assert EncoderResource(engine="openai", constrain_open=True).prompt_defaults()["constrain_open"] is True
