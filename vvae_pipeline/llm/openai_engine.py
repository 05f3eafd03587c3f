"""The encoder engine for any OpenAI-compatible chat-completions endpoint (a vLLM server, a hosted
model): json_schema response formats, bounded concurrency, retries with exponential backoff."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from vvae_pipeline.llm.engines import Engine, EngineError, Messages, Result

log = logging.getLogger(__name__)


class OpenAIEngine(Engine):
    """An OpenAI-compatible chat-completions endpoint. The api key is never logged or raised."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, max_concurrency: int = 8,
                 max_retries: int = 4, backoff_s: float = 0.5, timeout_s: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.max_concurrency = max(1, max_concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def _post(self, body: dict) -> dict:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(self.base_url + "/chat/completions", data=data, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in (408, 409, 429) and exc.code < 500:
                    raise EngineError(f"{self.base_url}: {last} (not retried)") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = type(exc).__name__
            if attempt < self.max_retries:
                time.sleep(self.backoff_s * 2**attempt)  # 0.5, 1, 2, 4 s
        raise EngineError(f"{self.base_url}: gave up after {self.max_retries + 1} attempts ({last})")

    def identity(self) -> str:
        # A served model's weights are not visible from here: the endpoint and the served name.
        return f"{self.model}|{self.base_url}"

    def decoding(self) -> dict:
        return {**super().decoding(), "response_format": "json_schema", "strict": True}

    def _one(self, messages: Messages, schema: dict, max_tokens: int) -> Result:
        body = {
            "model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "persona", "schema": schema, "strict": True}},
        }
        try:
            choice = self._post(body)["choices"][0]
        except EngineError as exc:
            log.warning("%s", exc)
            return Result("", "error")
        except (KeyError, IndexError, TypeError, json.JSONDecodeError):
            return Result("", "error")
        return Result(choice.get("message", {}).get("content") or "", choice.get("finish_reason") or "stop")

    def _generate(self, prompts, schemas, max_tokens):
        with ThreadPoolExecutor(self.max_concurrency) as pool:
            return list(pool.map(lambda ps: self._one(ps[0], ps[1], max_tokens), zip(prompts, schemas)))

    def chat_text(self, prompts: list[Messages], max_tokens: int, temperature: float = 0.0) -> list[str]:
        """Plain chat replies (the benchmark's prompting baselines), in input order.

        Unlike ``generate_json`` a failed request raises: a report must never score a missing reply
        as a reply that shows no persona.
        """

        def one(messages: Messages) -> str:
            body = {"model": self.model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
            try:
                return self._post(body)["choices"][0]["message"]["content"] or ""
            except (KeyError, IndexError, TypeError) as exc:
                raise EngineError(f"{self.base_url}: malformed chat completion ({type(exc).__name__})") from None

        with ThreadPoolExecutor(self.max_concurrency) as pool:
            return list(pool.map(one, prompts))
