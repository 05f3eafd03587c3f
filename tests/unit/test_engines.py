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
from vvae_pipeline.llm.engines import EngineError, TransformersEngine
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
    """A local OpenAI-compatible server that replays canned replies and records requests.

    A reply is ``(status, payload)`` or ``(status, payload, headers)``; ``None`` as payload is an
    all-null persona."""

    def __init__(self, replies: list[tuple], delay_s: float = 0.0):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.arrivals: list[float] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client's pool reuses connections

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.arrivals.append(time.monotonic())
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    code, payload, *extra = server.replies.pop(0) if server.replies else (200, None)
                time.sleep(delay_s)
                if payload is None:  # default: an all-null persona
                    payload = _completion(json.dumps({d: None for d in latent.DIMENSION_NAMES}))
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                with server.lock:
                    server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _completion(content: str, finish: str = "stop") -> dict:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]}


# A short server-directed wait keeps the retry tests fast (the client's own backoff starts at ~0.5 s).
FAST = {"retry-after-ms": "10"}


@pytest.fixture
def server_factory():
    servers = []

    def make(*args, **kwargs):
        servers.append(_Server(*args, **kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def test_openai_engine_sends_json_schema_and_parses(server_factory):
    answer = {d: None for d in latent.DIMENSION_NAMES} | {"catchphrase": "no worries at all"}
    srv = server_factory([(200, _completion(json.dumps(answer)))])
    engine = OpenAIEngine(srv.url, "served-model", api_key="sk-test-secret")
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=64)
    assert json.loads(res.text) == answer and res.finish_reason == "stop" and not res.retried
    body = srv.requests[0]
    assert body["model"] == "served-model" and body["max_tokens"] == 64 and body["messages"] == PROMPTS[0]
    assert body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["response_format"]["json_schema"]["strict"] is True
    assert srv.headers[0]["authorization"] == "Bearer sk-test-secret"


def test_openai_engine_without_a_key_never_sends_the_users_openai_key(server_factory, monkeypatch):
    # The openai client would otherwise read OPENAI_API_KEY and send it to whatever base_url is set.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-users-own-openai-key")
    srv = server_factory([])
    OpenAIEngine(srv.url, "m").generate_json(PROMPTS[:1], [SCHEMA], max_tokens=8)
    assert srv.headers[0]["authorization"] == "Bearer EMPTY"


def test_openai_engine_retries_server_errors(server_factory):
    srv = server_factory([(503, {"error": "busy"}, FAST), (429, {"error": "slow down"}, FAST),
                          (500, {"error": "oops"}, FAST)])
    engine = OpenAIEngine(srv.url, "m", max_retries=3)
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
    assert len(srv.requests) == 4 and res.finish_reason == "stop"
    assert json.loads(res.text)["emoji"] is None


def test_openai_engine_honours_retry_after_on_429(server_factory):
    # Without the header the client's first backoff is 0.5 s less up to 25% jitter: at most 0.5 s.
    srv = server_factory([(429, {"error": "slow down"}, {"Retry-After": "1.5"})])
    engine = OpenAIEngine(srv.url, "m", max_retries=2)
    assert engine.chat_text(PROMPTS[:1], max_tokens=8)
    assert len(srv.requests) == 2
    assert srv.arrivals[1] - srv.arrivals[0] >= 1.4, srv.arrivals


def test_openai_engine_does_not_retry_a_bad_request(server_factory, caplog):
    srv = server_factory([(400, {"error": {"message": "bad schema"}}), (400, {"error": {"message": "bad"}})])
    engine = OpenAIEngine(srv.url, "m", max_retries=4)
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
    assert res.finish_reason == "error" and len(srv.requests) == 1
    assert "HTTP 400 (not retried)" in caplog.text
    with pytest.raises(EngineError, match="HTTP 400"):
        engine.chat_text(PROMPTS[:1], max_tokens=8)
    assert len(srv.requests) == 2


def test_openai_engine_gives_up_without_leaking_the_key(server_factory, caplog):
    key = "sk-very-secret"
    # The 401 body echoes the key, as a careless endpoint might.
    srv = server_factory([(500, {}, FAST)] * 3 + [(401, {"error": {"message": f"bad key {key}"}})]
                         + [(503, {}, FAST)] * 3)
    engine = OpenAIEngine(srv.url, "m", api_key=key, max_retries=2)
    with caplog.at_level(logging.DEBUG):  # every logger, the openai client's and httpx's included
        first = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
        second = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=32)
        with pytest.raises(EngineError) as raised:
            engine.chat_text(PROMPTS[:1], max_tokens=8)
    assert first[0].finish_reason == "error" and second[0].finish_reason == "error"
    assert len(srv.requests) == 7  # 3 tries, 1 (401 is not retried), 3 tries
    assert "gave up" in caplog.text and "HTTP 401" in caplog.text
    assert "Retrying request" in caplog.text  # the client's own log records were captured too
    assert key not in caplog.text
    err = raised.value
    assert "gave up" in str(err) and key not in str(err) and key not in repr(err)
    assert err.__cause__ is None and err.__context__ is None  # no openai exception (it holds the request)
    assert key not in repr(engine)


def test_openai_engine_retries_length_with_a_larger_budget(server_factory):
    srv = server_factory([(200, _completion('{"catchphrase": "no worr', "length"))])
    engine = OpenAIEngine(srv.url, "m")
    [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=16)
    assert [r["max_tokens"] for r in srv.requests] == [16, 32]
    assert res.retried and res.finish_reason == "stop"


def test_openai_engine_bounds_concurrency_on_one_client(server_factory):
    srv = server_factory([], delay_s=0.05)
    engine = OpenAIEngine(srv.url, "m", max_concurrency=2)
    client = engine._client
    results = engine.generate_json(PROMPTS * 3, [SCHEMA] * 9, max_tokens=16)
    assert len(results) == 9 and all(r.finish_reason == "stop" for r in results)
    assert srv.max_in_flight == 2
    assert engine._client is client  # one client, one connection pool


def test_openai_engine_chat_text_in_order(server_factory):
    srv = server_factory([(200, _completion("first")), (200, _completion("second"))])
    engine = OpenAIEngine(srv.url, "m", max_concurrency=1)
    assert engine.chat_text(PROMPTS[:2], max_tokens=8, temperature=0.7) == ["first", "second"]
    assert [r["temperature"] for r in srv.requests] == [0.7, 0.7]
    assert "response_format" not in srv.requests[0]


def test_engine_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="2 prompts but 1 schemas"):
        OpenAIEngine("http://127.0.0.1:9", "m").generate_json(PROMPTS[:2], [SCHEMA], 8)
