"""Replies for the benchmark: transformers + PEFT on CPU, vLLM with one LoRARequest per adapter.

Prompts are an SFT test row's ``messages`` minus the final assistant message (that message is
the human reply x, the target). Every system is driven through one shape,
``generate(list_of_messages) -> list[str]``, so the prompting baselines (k-shot prompts with the
persona in the system message, built below) and an OpenAI-compatible engine plug into the same
benchmark code.

Two backends share ``generate_all(jobs, params)``: ``HFGenerator`` (transformers + PEFT, CPU or
CUDA) and ``VLLMGenerator`` (one engine, one LoRARequest per adapter). The k-shot prompting
baselines are built in evaluate.prompting.

On CPU one base model is loaded once and the adapters are swapped on it (``set_adapter``):
loading SmolLM2 takes ~0.3 s from safetensors but a fresh PeftModel per adapter would also
re-allocate 134.5M fp32 parameters (~540 MB) each time; swapping costs only the adapter (~23 MB).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from vvae_pipeline.params import DecodingParams

log = logging.getLogger(__name__)

Messages = list[dict]
GenerateFn = Callable[[Sequence[Messages]], list[str]]


# Progress lines per generation loop: about one every 5% of the work (20 lines at most), and the last.
PROGRESS_PARTS = 20


def progress_due(done: int, before: int, total: int, parts: int = PROGRESS_PARTS) -> bool:
    """True when going from ``before`` to ``done`` of ``total`` items crosses a 1/``parts`` step or ends."""
    return done >= total or done * parts // max(total, 1) > before * parts // max(total, 1)


def prompt_messages(messages: Sequence[dict]) -> Messages:
    """An SFT row's messages minus the final assistant message (the human reply x)."""
    msgs = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    if not msgs or msgs[-1]["role"] != "assistant":
        raise ValueError("an SFT row's messages must end with the assistant reply x")
    prompt = msgs[:-1]
    if not any(m["role"] != "system" for m in prompt):
        # Nothing to reply to: chat templates need at least one user/assistant turn.
        prompt.append({"role": "user", "content": ""})
    return prompt


def fit_history(messages: Messages, n_tokens: Callable[[Messages], int], limit: int) -> Messages:
    """Drop the oldest non-system messages until ``n_tokens(messages) <= limit`` (keep the last one)."""
    msgs = list(messages)
    while n_tokens(msgs) > limit:
        body = [i for i, m in enumerate(msgs) if m["role"] != "system"]
        if len(body) <= 1:
            break
        del msgs[body[0]]
    return msgs


class HFGenerator:
    """One base model in memory; PEFT adapters loaded by name and switched per call."""

    def __init__(self, model_path: str, dtype: str = "float32", device: str = "cpu"):
        from vvae_pipeline.llm.models import load_causal_lm, load_tokenizer

        self.model_path = model_path
        self.device = device
        self.tokenizer = load_tokenizer(model_path)
        self.tokenizer.padding_side = "left"  # decoder-only: new tokens follow the prompt
        self.model = load_causal_lm(model_path, dtype=dtype, device=device)
        self.adapters: dict[str, str] = {}

    def load_adapter(self, name: str, path: str | Path) -> None:
        from peft import PeftModel

        if not (Path(path) / "adapter_config.json").exists():
            raise FileNotFoundError(f"{path}: not a PEFT adapter folder (no adapter_config.json)")
        if not self.adapters:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name).eval()
        else:
            self.model.load_adapter(str(path), adapter_name=name)
        self.adapters[name] = str(path)

    def _render(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _n_tokens(self, messages: Messages) -> int:
        return len(self.tokenizer(self._render(messages), add_special_tokens=False)["input_ids"])

    def generate(self, prompts: Sequence[Messages], params: DecodingParams, adapter: str | None = None) -> list[str]:
        """Replies to ``prompts`` with ``adapter`` (None = the untuned base model), in input order."""
        import contextlib

        import torch

        texts = [self._render(fit_history(p, self._n_tokens, params.max_prompt_tokens)) for p in prompts]
        lengths = [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        # Similar lengths in one batch waste less compute on padding.
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        out: list[str] = [""] * len(texts)
        if adapter is None:
            ctx = self.model.disable_adapter() if self.adapters else contextlib.nullcontext()
        else:
            if adapter not in self.adapters:
                raise KeyError(f"adapter {adapter!r} not loaded; loaded: {sorted(self.adapters)}")
            self.model.set_adapter(adapter)
            ctx = contextlib.nullcontext()
        gen_kwargs = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": params.do_sample,
            "repetition_penalty": params.repetition_penalty,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if params.do_sample:
            gen_kwargs.update(temperature=params.temperature, top_p=params.top_p)
        torch.manual_seed(params.seed)
        with ctx, torch.inference_mode():
            for start in range(0, len(order), params.batch_size):
                idx = order[start : start + params.batch_size]
                enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                     add_special_tokens=False).to(self.device)
                ids = self.model.generate(**enc, **gen_kwargs)
                new = ids[:, enc["input_ids"].shape[1] :]
                for i, row in zip(idx, new, strict=True):
                    # A reply cut by max_new_tokens inside a multi-byte character decodes to a trailing
                    # U+FFFD here, where vLLM drops the partial character: 3 of 24 replies differed only
                    # by that in tests/vllm_cpu/test_vllm_report.py. Drop it, as vLLM does.
                    out[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip().rstrip("\ufffd").strip()
                if progress_due(start + len(idx), start, len(order)):  # counts only, never text
                    log.info("generate[%s]: %d/%d replies", adapter or "base", start + len(idx), len(order))
        return out

    def as_fn(self, params: DecodingParams, adapter: str | None = None) -> GenerateFn:
        return lambda prompts: self.generate(prompts, params, adapter)

    def _adapter_name(self, path: str | Path | None) -> str | None:
        """Load the adapter at ``path`` once (named after its folder's parent: the variant)."""
        if path is None:
            return None
        path = str(path)
        for name, loaded in self.adapters.items():
            if loaded == path:
                return name
        name = Path(path).parent.name or f"adapter{len(self.adapters)}"
        while name in self.adapters:
            name += "_"
        self.load_adapter(name, path)
        return name

    def generate_all(self, jobs: Mapping[str, tuple[str | None, Sequence[Messages]]],
                     params: DecodingParams) -> dict[str, list[str]]:
        """Replies per system: ``jobs`` maps a system to (adapter folder or None = base, prompts)."""
        out = {}
        for k, (system, (path, prompts)) in enumerate(jobs.items(), 1):
            log.info("generate: system %d/%d (%s, %d prompts)", k, len(jobs), system, len(prompts))
            out[system] = self.generate(prompts, params, self._adapter_name(path))
        return out

    @contextmanager
    def using(self, adapter_path: str | Path | None):
        """The model with ``adapter_path`` active (None: the base weights, adapters disabled)."""
        name = self._adapter_name(adapter_path)
        if name is None:
            with (self.model.disable_adapter() if self.adapters else nullcontext()):
                yield self.model
        else:
            self.model.set_adapter(name)
            yield self.model


class VLLMGenerator:
    """Every system of a backbone in one vLLM engine: one ``LoRARequest`` per adapter, the base model
    for None. ``max_lora_rank`` 0 takes the largest rank among the adapters (vLLM needs it up front)."""

    def __init__(self, model_path: str, max_lora_rank: int = 0, engine_kwargs: dict | None = None):
        self.model_path = model_path
        self.max_lora_rank = max_lora_rank
        self.engine_kwargs = dict(engine_kwargs or {})

    def generate_all(self, jobs: Mapping[str, tuple[str | None, Sequence[Messages]]],
                     params: DecodingParams) -> dict[str, list[str]]:
        rank = self.max_lora_rank or max_lora_rank({p for p, _ in jobs.values() if p})
        return vllm_generate(self.model_path, dict(jobs), params, max_lora_rank=rank, engine_kwargs=self.engine_kwargs)


# vLLM accepts these values of max_lora_rank; an adapter's rank is rounded up to the next one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def max_lora_rank(adapter_dirs) -> int:
    """The smallest vLLM-accepted rank that covers every adapter's ``r`` (8 when there is none)."""
    import json

    ranks = [int(json.loads((Path(d) / "adapter_config.json").read_text())["r"]) for d in adapter_dirs]
    need = max(ranks, default=8)
    return next((r for r in VLLM_LORA_RANKS if r >= need), need)


def vllm_generate(
    model_path: str,
    jobs: dict[str, tuple[str | None, Sequence[Messages]]],
    params: DecodingParams,
    max_lora_rank: int = 64,
    engine_kwargs: dict | None = None,
) -> dict[str, list[str]]:
    """All systems in one vLLM engine: ``jobs`` maps a system name to (adapter path or None, prompts).

    Each adapter gets one ``LoRARequest`` (integer ids from 1); None runs the base model. vLLM is
    imported here so CPU-only installs never need it.
    """
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    adapters = sorted({path for path, _ in jobs.values() if path})
    llm = LLM(model=model_path, enable_lora=bool(adapters), max_loras=max(1, len(adapters)),
              max_lora_rank=max_lora_rank, seed=params.seed, **(engine_kwargs or {}))
    requests = {path: LoRARequest(Path(path).parent.name or path, i + 1, path) for i, path in enumerate(adapters)}
    sampling = SamplingParams(
        max_tokens=params.max_new_tokens,
        temperature=params.temperature if params.do_sample else 0.0,
        top_p=params.top_p if params.do_sample else 1.0,
        repetition_penalty=params.repetition_penalty,
        seed=params.seed,
    )
    tokenizer = llm.get_tokenizer()

    def n_tokens(messages: Messages) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer.encode(text, add_special_tokens=False))

    out: dict[str, list[str]] = {}
    for name, (path, prompts) in jobs.items():
        # The same history budget as HFGenerator: the oldest turns go first beyond max_prompt_tokens.
        fitted = [fit_history(list(p), n_tokens, params.max_prompt_tokens) for p in prompts]
        results = llm.chat(fitted, sampling, use_tqdm=False,
                           lora_request=requests[path] if path else None)
        out[name] = [r.outputs[0].text.strip() for r in results]
    return out
