"""A deterministic engine for unit tests (no model): each field gets its first non-null enum value."""

from __future__ import annotations

import json

from vvae_pipeline.llm.engines import Engine, Result


class FakeEngine(Engine):
    """For unit tests: answers each field with its first non-null enum value (else null)."""

    name = "fake"

    def __init__(self, model: str = "fake-first-choice", script: list[Result] | None = None):
        self.model = model
        self.calls: list[int] = []  # prompts per _generate call
        self._script = list(script or [])

    def _generate(self, prompts, schemas, max_tokens):
        self.calls.append(len(prompts))
        out = []
        for schema in schemas:
            if self._script:
                out.append(self._script.pop(0))
                continue
            obj = {}
            for key, prop in schema["properties"].items():
                choices = [v for v in prop.get("enum", []) if v is not None]
                obj[key] = choices[0] if choices else None
            out.append(Result(json.dumps(obj, ensure_ascii=False), "stop"))
        return out
