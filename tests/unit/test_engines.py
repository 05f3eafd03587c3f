"""Engines: the transformers engine on the real SmolLM2, the OpenAI engine against a local server."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest

from vvae_pipeline import latent
from vvae_pipeline.llm.engines import TransformersEngine
from vvae_pipeline.llm.openai_engine import OpenAIEngine

SCHEMA = latent.json_schema({"catchphrase": ["no worries at all"], "emoji": ["🌙"], "nickname": ["sunshine"],
                             "hobby": ["stargazing"], "topic": ["work"]})
PROMPTS = [
    [{"role": "system", "content": "Describe the agent's persona as JSON. Use null when not shown."},
     {"role": "user", "content": "agent: Hey sunshine, no worries at all 🌙\nagent: I love stargazing."}],
    [{"role": "user", "content": "agent: 哼，笨蛋，工作的事跟我说说。"}],
    [{"role": "user", "content": "agent: Take a deep breath."}],
]


@pytest.mark.slow
def test_transformers_engine_gives_schema_valid_json_on_smollm2(smollm2_path):
    no_spans = latent.json_schema({"catchphrase": [], "emoji": [], "nickname": [], "hobby": [], "topic": []})
    schemas = [SCHEMA, latent.json_schema({"catchphrase": ["哼"], "nickname": ["笨蛋"]}), no_spans]
    engine = TransformersEngine(smollm2_path, "smollm2-135m", batch_size=3)
    results = engine.generate_json(PROMPTS, schemas, max_tokens=96)
    assert len(results) == 3
    for res, schema in zip(results, schemas):
        assert res.finish_reason == "stop", res.text
        jsonschema.validate(json.loads(res.text), schema)  # raises on any violation
    # The per-prompt grammar is honoured: open fields with no candidates can only be null.
    assert all(json.loads(results[2].text)[d] is None for d in ("catchphrase", "emoji", "nickname", "hobby"))
    # Left padding: a prompt gives the same output alone as inside the batch.
    alone = engine.generate_json(PROMPTS[2:], schemas[2:], max_tokens=96)
    assert alone[0].text == results[2].text


class _Server:
    """A local OpenAI-compatible server that replays canned replies and records requests."""

    def __init__(self, replies: list[tuple[int, dict | None]], delay_s: float = 0.0):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    code, payload = server.replies.pop(0) if server.replies else (200, None)
                time.sleep(delay_s)
                if payload is None:  # default: an all-null persona
                    payload = _completion(json.dumps({d: None for d in latent.DIMENSION_NAMES}))
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with server.lock:
                    server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def _completion(content: str, finish: str = "stop") -> dict:
    return {"id": "c1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]}


@pytest.fixture
def server_factory():
    servers = []

    def make(*args, **kwargs):
        servers.append(_Server(*args, **kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_openai_engine_sends_json_schema_and_parses(server_factory, monkeypatch):
    answer = {d: None for d in latent.DIMENSION_NAMES} | {"catchphrase": "no worries at all"}
    srv = server_factory([(200, _completion(json.dumps(answer)))])
    engine = OpenAIEngine(srv.url, "served-model", api_key="sk-test-secret")
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=64)
    assert json.loads(res.text) == answer and res.finish_reason == "stop" and not res.retried
    body = srv.requests[0]
    assert body["model"] == "served-model" and body["max_tokens"] == 64 and body["messages"] == PROMPTS[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert srv.headers[0]["Authorization"] == "Bearer sk-test-secret"


def test_openai_engine_retries_server_errors_with_backoff(server_factory):
    srv = server_factory([(503, {"error": "busy"}), (429, {"error": "slow down"})])
    engine = OpenAIEngine(srv.url, "m", max_retries=3, backoff_s=0.01)
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
    assert len(srv.requests) == 3 and res.finish_reason == "stop"
    assert json.loads(res.text)["emoji"] is None


def test_openai_engine_gives_up_without_leaking_the_key(server_factory, caplog):
    srv = server_factory([(500, {})] * 3 + [(401, {"error": "bad key"})])
    engine = OpenAIEngine(srv.url, "m", api_key="sk-very-secret", max_retries=2, backoff_s=0.01)
    with caplog.at_level(logging.DEBUG):
        first = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
        second = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
    assert first[0].finish_reason == "error" and len(srv.requests) == 4  # 3 tries, then 1 (401 is not retried)
    assert second[0].finish_reason == "error"
    assert "gave up" in caplog.text and "sk-very-secret" not in caplog.text


def test_openai_engine_retries_length_with_a_larger_budget(server_factory):
    srv = server_factory([(200, _completion('{"catchphrase": "no worr', "length"))])
    engine = OpenAIEngine(srv.url, "m")
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=16)
    assert [r["max_tokens"] for r in srv.requests] == [16, 32]
    assert res.retried and res.finish_reason == "stop"


def test_openai_engine_bounds_concurrency(server_factory):
    srv = server_factory([], delay_s=0.05)
    engine = OpenAIEngine(srv.url, "m", max_concurrency=2)
    results = engine.generate_json(PROMPTS * 3, [SCHEMA] * 9, max_tokens=16)
    assert len(results) == 9 and all(r.finish_reason == "stop" for r in results)
    assert srv.max_in_flight == 2


def test_engine_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="2 prompts but 1 schemas"):
        OpenAIEngine("http://127.0.0.1:9", "m").generate_json(PROMPTS[:2], [SCHEMA], 8)
