"""The encoder engine for any OpenAI-compatible chat-completions endpoint (a vLLM server, a hosted
model), on the official ``openai`` client: json_schema response formats, bounded concurrency, one
connection pool per engine, and the client's retries (408, 409, 429 and 5xx, exponential backoff
with jitter, Retry-After honoured)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from vvae_pipeline.llm.engines import Engine, EngineError, Messages, Result

log = logging.getLogger(__name__)

# The openai client requires a key; endpoints without auth (a plain `vllm serve`) ignore it. Passing it
# explicitly also keeps the client from reading OPENAI_API_KEY and sending that key to a third-party URL.
NO_KEY = "EMPTY"
# The status codes the openai client retries itself (its _should_retry); anything else fails at once.
RETRIED_STATUS = (408, 409, 429)


def _retried(status: int) -> bool:
    return status in RETRIED_STATUS or status >= 500


class OpenAIEngine(Engine):
    """An OpenAI-compatible chat-completions endpoint. The api key is never logged or raised."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, max_concurrency: int = 8,
                 max_retries: int = 4, timeout_s: float = 120.0):
        import openai

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_concurrency = max(1, max_concurrency)
        self.max_retries = max(0, max_retries)
        self.timeout_s = timeout_s
        self._api_key = api_key or ""
        # One client: one connection pool shared by the worker threads (httpx clients are thread-safe).
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key or NO_KEY,
                                     max_retries=self.max_retries, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"OpenAIEngine(base_url={self.base_url!r}, model={self.model!r})"

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _create(self, **body):
        """One chat completion; every failure becomes an EngineError that names neither the key nor
        the request (the openai exceptions carry the request, headers included)."""
        import openai

        try:
            return self._client.chat.completions.create(model=self.model, **body)
        except openai.APIStatusError as exc:
            status = exc.status_code
            detail = self._redact(str(exc.message))[:300]
            if _retried(status):
                error = EngineError(f"{self.base_url}: gave up after up to {self.max_retries + 1} attempts "
                                    f"(HTTP {status}: {detail})")
            else:
                error = EngineError(f"{self.base_url}: HTTP {status} (not retried): {detail}")
        except openai.APIConnectionError as exc:  # timeouts included; the client retried them
            error = EngineError(f"{self.base_url}: gave up after up to {self.max_retries + 1} attempts "
                                f"({type(exc).__name__})")
        except openai.OpenAIError as exc:
            error = EngineError(f"{self.base_url}: {type(exc).__name__}: {self._redact(str(exc))[:300]}")
        raise error

    def identity(self) -> str:
        # A served model's weights are not visible from here: the endpoint and the served name.
        return f"{self.model}|{self.base_url}"

    def decoding(self) -> dict:
        return {**super().decoding(), "response_format": "json_schema", "strict": True}

    def _one(self, messages: Messages, schema: dict, max_tokens: int) -> Result:
        response_format = {"type": "json_schema",
                           "json_schema": {"name": "persona", "schema": schema, "strict": True}}
        try:
            completion = self._create(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                      response_format=response_format)
            choice = completion.choices[0]
            text, finish = choice.message.content, choice.finish_reason
        except EngineError as exc:
            log.warning("%s", exc)
            return Result("", "error")
        except (AttributeError, IndexError, TypeError) as exc:
            log.warning("%s: malformed chat completion (%s)", self.base_url, type(exc).__name__)
            return Result("", "error")
        return Result(text or "", finish or "stop")

    def _generate(self, prompts, schemas, max_tokens):
        with ThreadPoolExecutor(self.max_concurrency) as pool:
            return list(pool.map(lambda ps: self._one(ps[0], ps[1], max_tokens), zip(prompts, schemas)))

    def chat_text(self, prompts: list[Messages], max_tokens: int, temperature: float = 0.0) -> list[str]:
        """Plain chat replies (the benchmark's prompting baselines), in input order.

        Unlike ``generate_json`` a failed request raises: a report must never score a missing reply
        as a reply that shows no persona.
        """

        def one(messages: Messages) -> str:
            completion = self._create(messages=messages, max_tokens=max_tokens, temperature=temperature)
            try:
                return completion.choices[0].message.content or ""
            except (AttributeError, IndexError, TypeError) as exc:
                raise EngineError(f"{self.base_url}: malformed chat completion ({type(exc).__name__})") from None

        with ThreadPoolExecutor(self.max_concurrency) as pool:
            return list(pool.map(one, prompts))
