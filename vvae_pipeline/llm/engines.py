"""LLM engines behind one interface: prompts (chat messages) + a JSON Schema each -> JSON text.

    engine.generate_json(prompts, schemas, max_tokens) -> list[Result(text, finish_reason, retried)]

- ``TransformersEngine``: local CPU/GPU, batched generation with left padding, constrained by
  xgrammar's transformers logits processor (one compiled grammar per prompt).
- ``VLLMEngine``: vLLM offline ``LLM.chat`` with structured outputs from the schema.
- ``OpenAIEngine``: any OpenAI-compatible endpoint (``vllm serve``, a hosted model), json_schema
  response format, bounded concurrency, retries with backoff.

Every engine retries outputs that stopped on the token budget (``finish_reason == "length"``,
e.g. a whitespace loop or a long string) once with ``retry_factor`` times the budget.
Heavy imports (torch, transformers, xgrammar, vllm) happen inside methods.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
from dataclasses import dataclass, replace

from vvae_pipeline.params import ExtractParams

log = logging.getLogger(__name__)

Messages = list[dict]


@dataclass(frozen=True)
class Result:
    text: str
    finish_reason: str  # "stop" | "length" | "error"
    retried: bool = False


class EngineError(RuntimeError):
    pass


class Engine(abc.ABC):
    name: str = "engine"
    model: str = ""
    retry_factor: int = 2

    def generate_json(self, prompts: list[Messages], schemas: list[dict], max_tokens: int) -> list[Result]:
        if len(prompts) != len(schemas):
            raise ValueError(f"{len(prompts)} prompts but {len(schemas)} schemas")
        if not prompts:
            return []
        results = list(self._generate(prompts, schemas, max_tokens))
        redo = [i for i, r in enumerate(results) if r.finish_reason == "length"]
        if redo and self.retry_factor > 1:
            log.info("%s: %d of %d outputs hit %d tokens; retrying with %d", self.name, len(redo),
                     len(results), max_tokens, max_tokens * self.retry_factor)
            again = self._generate([prompts[i] for i in redo], [schemas[i] for i in redo],
                                   max_tokens * self.retry_factor)
            for i, r in zip(redo, again, strict=True):
                results[i] = replace(r, retried=True)
        return results

    @abc.abstractmethod
    def _generate(self, prompts: list[Messages], schemas: list[dict], max_tokens: int) -> list[Result]: ...

    def identity(self) -> str:
        """What the outputs depend on besides the prompt: the model's name and, where the weights are
        local, a fingerprint of their files (so re-converted or fine-tuned weights under the same
        name are a different model)."""
        return self.model

    def decoding(self) -> dict:
        """The decoding settings (part of every cache key)."""
        return {"greedy": True, "retry_factor": self.retry_factor}


_FINGERPRINTS: dict[tuple, str] = {}


def weights_fingerprint(path: str) -> str:
    """sha256 over the weight, config and tokenizer files of a local model folder (name, size and
    content); a hub id or a missing folder gives the string itself. Memoised per (file, size, mtime):
    hashing SmolLM2's 517 MB safetensors takes ~2 s once."""
    from pathlib import Path

    from vvae_pipeline.hashing import sha256_file

    folder = Path(path)
    if not folder.is_dir():
        return f"name:{path}"
    files = sorted(f for f in folder.iterdir() if f.is_file() and (
        f.suffix in (".safetensors", ".bin", ".gguf", ".pt") or f.name.startswith(("config", "tokenizer",
                                                                                  "generation_config"))))
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        memo = (str(f), st.st_size, st.st_mtime_ns)
        if memo not in _FINGERPRINTS:
            _FINGERPRINTS[memo] = sha256_file(f)
        h.update(f"{f.name}:{st.st_size}:{_FINGERPRINTS[memo]}\n".encode())
    return "sha256:" + h.hexdigest()


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, model_path: str, model_name: str | None = None, batch_size: int = ExtractParams.batch_size,
                 dtype: str = "float32", device: str = "cpu", constrained: bool = True, compact: bool = False):
        self.model_path = model_path
        self.model = model_name or model_path
        self.batch_size = batch_size
        self.dtype = dtype
        self.device = device
        self.constrained = constrained
        # xgrammar without any_whitespace still writes ", " and ": " between items; compact=True
        # writes "," and ":" (what vLLM's disable_any_whitespace does). Off by default: on 32 demo
        # prompts SmolLM2 answered null on every field after a compact '"tone":' (bench_encoder.py).
        self.compact = compact
        self._tok = self._lm = self._compiler = None
        self._grammars: dict[str, object] = {}

    def identity(self) -> str:
        return f"{self.model}|{weights_fingerprint(self.model_path)}|{self.dtype}"

    def decoding(self) -> dict:
        return {**super().decoding(), "constrained": self.constrained, "any_whitespace": False,
                "compact": self.compact}

    def _load(self):
        if self._lm is not None:
            return
        from vvae_pipeline.llm.models import load_causal_lm, load_tokenizer

        self._tok = load_tokenizer(self.model_path)
        self._tok.padding_side = "left"
        self._lm = load_causal_lm(self.model_path, self.dtype, self.device)
        if self.constrained:
            import xgrammar as xgr

            # The model's vocab can be larger than the tokenizer's (padding rows).
            info = xgr.TokenizerInfo.from_huggingface(self._tok, vocab_size=self._lm.config.vocab_size)
            self._compiler = xgr.GrammarCompiler(info, max_threads=1)

    def _grammar(self, schema: dict):
        key = json.dumps(schema, ensure_ascii=False)  # key order kept: fields come out in prompt order
        if key not in self._grammars:
            # any_whitespace=False: compact JSON, so a small model cannot loop on spaces.
            self._grammars[key] = self._compiler.compile_json_schema(
                key, any_whitespace=False, separators=(",", ":") if self.compact else None)
        return self._grammars[key]

    def _generate(self, prompts, schemas, max_tokens):
        import torch

        self._load()
        tok = self._tok
        texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts]
        lengths = [len(tok(t, add_special_tokens=False).input_ids) for t in texts]
        # Longest first in similar-length batches: less left padding, and an OOM shows up at once.
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        results: list[Result | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True,
                      add_special_tokens=False).to(self.device)
            kwargs = {}
            if self.constrained:
                from xgrammar.contrib.hf import LogitsProcessor

                # A processor holds per-row matcher state: one per generate() call.
                kwargs["logits_processor"] = [LogitsProcessor([self._grammar(schemas[i]) for i in idx])]
            with torch.inference_mode():
                out = self._lm.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                        pad_token_id=tok.pad_token_id, **kwargs)
            gen = out[:, enc.input_ids.shape[1]:]
            gc_eos = self._lm.generation_config.eos_token_id
            eos = {tok.eos_token_id, *(gc_eos if isinstance(gc_eos, list) else [gc_eos])} - {None}
            for row, i in enumerate(idx):
                ids = gen[row].tolist()
                stopped = any(t in eos for t in ids)
                results[i] = Result(tok.decode(ids, skip_special_tokens=True), "stop" if stopped else "length")
        return results


def _sampling_params(schema: dict, max_tokens: int):
    """SamplingParams with structured JSON output, across vLLM's rename of the API."""
    from vllm import SamplingParams

    try:  # vLLM >= 0.11
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(temperature=0.0, max_tokens=max_tokens,
                              structured_outputs=StructuredOutputsParams(json=schema))
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return SamplingParams(temperature=0.0, max_tokens=max_tokens,
                              guided_decoding=GuidedDecodingParams(json=schema))


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, model_path: str, model_name: str | None = None, tensor_parallel_size: int = 1,
                 dtype: str = "auto", max_model_len: int = 4096, enforce_eager: bool = False,
                 gpu_memory_utilization: float = 0.85, llm_kwargs: dict | None = None):
        self.model_path = model_path
        self.model = model_name or model_path
        self.tensor_parallel_size = tensor_parallel_size
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.enforce_eager = enforce_eager
        self.gpu_memory_utilization = gpu_memory_utilization
        self.llm_kwargs = dict(llm_kwargs or {})
        self._llm = None

    def _load(self):
        if self._llm is not None:
            return
        from vllm import LLM

        kwargs = dict(model=self.model_path, tensor_parallel_size=self.tensor_parallel_size, dtype=self.dtype,
                      max_model_len=self.max_model_len, enforce_eager=self.enforce_eager, **self.llm_kwargs)
        try:
            import torch

            if torch.cuda.is_available():
                kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        except ImportError:
            pass
        try:
            # Whitespace freedom is engine-wide in vLLM; without it a 135M model loops on spaces.
            self._llm = LLM(structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
                            **kwargs)
        except TypeError:  # older vLLM: guided decoding options
            self._llm = LLM(guided_decoding_backend="xgrammar", **kwargs)

    def identity(self) -> str:
        return f"{self.model}|{weights_fingerprint(self.model_path)}|{self.dtype}"

    def decoding(self) -> dict:
        return {**super().decoding(), "any_whitespace": False}

    def _generate(self, prompts, schemas, max_tokens):
        self._load()
        params = [_sampling_params(s, max_tokens) for s in schemas]
        outs = self._llm.chat(prompts, params, use_tqdm=False)
        return [Result(o.outputs[0].text, o.outputs[0].finish_reason or "stop") for o in outs]
