"""vvae_pipeline.llm.serving for real: vLLM's OpenAI-compatible server on 127.0.0.1 with the converted SmolLM2
and a LoRA adapter, queried over HTTP like a client would (run from .venv-vllm).

    .venv-vllm/bin/python -m pytest tests/vllm_cpu/test_serving.py

Server start (process launched -> /v1/models answers): 74 s and 94 s in two runs on the 2-core machine
while another benchmark ran (the whole module: 105 s and 134 s). The server is stopped (SIGTERM to its process group,
then SIGKILL after 30 s) whatever the test's outcome.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

try:
    import vllm  # noqa: F401
except ImportError as exc:
    pytest.skip(f"vllm is not importable here ({exc}): create .venv-vllm with scripts/setup_vllm.sh",
                allow_module_level=True)

from tests.vllm_cpu.test_vllm_lora import write_lora  # noqa: E402

pytestmark = pytest.mark.vllm

START_TIMEOUT_S = 300
NAME = "champion"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _post(url: str, body: dict, timeout: float = 120):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def server(tmp_path_factory, smollm2_path):
    tmp = tmp_path_factory.mktemp("serve")
    adapter = tmp / "champion" / "adapter"
    write_lora(smollm2_path, adapter, r=8)
    champion = tmp / "champion.json"
    champion.write_text(json.dumps({"adapter_path": str(adapter)}))
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "0-1",
           "PYTHONUNBUFFERED": "1"}
    log_path = tmp / "server.log"
    log = open(log_path, "w")
    t0 = time.monotonic()
    # Its own session: the whole process group (API server + engine core) is stopped at the end.
    proc = subprocess.Popen([sys.executable, "-m", "vvae_pipeline.llm.serving", "--champion-json", str(champion),
                             "--base-model", smollm2_path, "--device", "cpu", "--port", str(port),
                             "--name", NAME],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                models = _get(f"{base}/v1/models")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() - t0 > START_TIMEOUT_S:
                raise AssertionError(f"no /v1/models after {START_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(2)
        started = time.monotonic() - t0
        print(f"\nvLLM server answered /v1/models after {started:.1f} s")
        yield {"base": base, "models": models, "started_s": started, "log": log_path, "proc": proc}
    finally:
        _stop(proc)
        log.close()


def test_the_adapter_is_listed(server):
    ids = [m["id"] for m in server["models"]["data"]]
    assert NAME in ids, ids
    assert _listening_addresses(int(server["base"].rsplit(":", 1)[1])) == {"127.0.0.1"}


def _listening_addresses(port: int) -> set[str]:
    """IPv4/IPv6 addresses listening on ``port``, from /proc/net/tcp{,6} (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state != "0A" or int(hexport, 16) != port:  # 0A: LISTEN
                continue
            if len(addr) == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
            else:
                found.add("ipv6:" + addr)
    return found


def test_chat_completion_through_the_adapter(server):
    body = {"model": NAME, "messages": [{"role": "user", "content": "Sorry I am late, the bus broke down."}],
            "max_tokens": 16, "temperature": 0}
    out = _post(f"{server['base']}/v1/chat/completions", body)
    text = out["choices"][0]["message"]["content"]
    assert isinstance(text, str) and text.strip(), out
    assert out["model"] == NAME
    base_model_id = next(m["id"] for m in server["models"]["data"] if m["id"] != NAME)
    plain = _post(f"{server['base']}/v1/chat/completions", {**body, "model": base_model_id})
    assert plain["choices"][0]["message"]["content"] != text  # the adapter reached the model


def test_openai_engine_on_the_server(server):
    """The encoder's OpenAIEngine (on the openai client) against the real server: json_schema
    response_format honoured, plain chat, and a rejected request failing without retries."""
    import jsonschema

    from vvae_pipeline import latent
    from vvae_pipeline.llm.engines import EngineError
    from vvae_pipeline.llm.openai_engine import OpenAIEngine

    # Every open dimension restricted to candidate spans (the small model's setting): outputs stay short.
    schema = latent.json_schema({d.name: ["sunshine"] if d.name == "nickname" else []
                                 for d in latent.DIMENSIONS if not d.closed})
    system = {"role": "system", "content": "Describe the agent's persona as JSON. Use null when not shown."}
    prompts = [[system, {"role": "user", "content": "agent: Hey sunshine, take a deep breath."}],
               [system, {"role": "user", "content": "agent: The bus broke down, sorry."}]]
    engine = OpenAIEngine(f"{server['base']}/v1", NAME, max_concurrency=2, max_retries=1)
    results = engine.generate_json(prompts, [schema, schema], max_tokens=192)
    for res in results:
        assert res.finish_reason == "stop", res
        jsonschema.validate(json.loads(res.text), schema)  # raises on any violation
    [reply] = engine.chat_text([prompts[1][1:]], max_tokens=16)
    assert reply.strip()
    # An unknown model is a client error: not retried, an error result / an EngineError.
    unknown = OpenAIEngine(f"{server['base']}/v1", "no-such-model", max_retries=3)
    assert unknown.generate_json(prompts[:1], [schema], max_tokens=16)[0].finish_reason == "error"
    with pytest.raises(EngineError, match=r"HTTP 4\d\d \(not retried\)"):
        unknown.chat_text([prompts[1][1:]], max_tokens=8)


def test_server_stops_with_its_process_group(server):
    proc = server["proc"]
    _stop(proc)
    assert proc.poll() is not None
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(f"{server['base']}/v1/models", timeout=3)
