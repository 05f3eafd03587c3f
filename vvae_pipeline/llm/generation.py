"""Replies for the benchmark: transformers + PEFT on CPU, vLLM with one LoRARequest per adapter.

Prompts are an SFT test row's ``messages`` minus the final assistant message (that message is
the human reply x, the target). Every system is driven through one shape,
``generate(list_of_messages) -> list[str]``, so the prompting baselines (k-shot prompts with the
persona in the system message, built below) and an OpenAI-compatible engine plug into the same
benchmark code.

On CPU one base model is loaded once and the adapters are swapped on it (``set_adapter``):
loading SmolLM2 takes ~0.3 s from safetensors but a fresh PeftModel per adapter would also
re-allocate 134.5M fp32 parameters (~540 MB) each time; swapping costs only the adapter (~23 MB).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vvae_pipeline.params import DecodingParams

log = logging.getLogger(__name__)

Messages = list[dict]
GenerateFn = Callable[[Sequence[Messages]], list[str]]


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
                    out[i] = self.tokenizer.decode(row, skip_special_tokens=True).strip()
        return out

    def as_fn(self, params: DecodingParams, adapter: str | None = None) -> GenerateFn:
        return lambda prompts: self.generate(prompts, params, adapter)


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
    out: dict[str, list[str]] = {}
    for name, (path, prompts) in jobs.items():
        results = llm.chat([list(p) for p in prompts], sampling, use_tqdm=False,
                           lora_request=requests[path] if path else None)
        out[name] = [r.outputs[0].text.strip() for r in results]
    return out


# -- prompting baselines (the paper's API baselines) -----------------------------------------

_PERSONA_INTRO = {
    "en": "You are a companion chatting with a user. Stay in character. Your persona:",
    "zh": "你是一个陪伴聊天的角色，请保持人设。你的人设：",
}
_PERSONA_SHOTS = {
    "en": "Here are some replies you wrote before.",
    "zh": "下面是你以前的一些回复。",
}
_FIELD_LABELS = {
    "en": {"catchphrase": "catchphrase", "emoji": "favourite emoji", "tone": "tone", "nickname":
           "you call the user", "relationship": "relationship", "vibe": "vibe", "topic": "topic",
           "personality": "personality", "hobby": "hobby"},
    "zh": {"catchphrase": "口头禅", "emoji": "常用表情", "tone": "语气", "nickname": "你对用户的称呼",
           "relationship": "关系", "vibe": "氛围", "topic": "话题", "personality": "性格", "hobby": "爱好"},
}


def persona_system(persona: Mapping[str, object], language: str, k: int) -> str:
    lang = language if language in _PERSONA_INTRO else "en"
    labels = _FIELD_LABELS[lang]
    lines = [_PERSONA_INTRO[lang]]
    lines += [f"- {labels[d]}: {persona[d]}" for d in labels if persona.get(d)]
    if k:
        lines.append(_PERSONA_SHOTS[lang])
    return "\n".join(lines)


def _history(messages: Sequence[dict]) -> Messages:
    return [m for m in prompt_messages(messages) if m["role"] != "system"]


def _last_user(messages: Messages) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def shot_prompts(
    rows: Sequence[Mapping],
    personas: Sequence[Mapping[str, object]],
    k: int,
    pool: Sequence[Mapping] | None = None,
    seed: int = 0,
) -> list[Messages]:
    """Zero/k-shot prompts: persona in the system message, k example exchanges, then the context.

    ``rows`` need ``messages``, ``agent_id``, ``session_id``, ``language``, ``example_id``; the
    shots are (last user turn, human reply) pairs drawn, seeded per row, from ``pool`` (default:
    ``rows``): the same agent's other sessions first, then other agents of the same language.
    A row's own session is never a shot, so its target reply cannot leak into its prompt.
    """
    pool = list(rows if pool is None else pool)
    prompts: list[Messages] = []
    for row, persona in zip(rows, personas, strict=True):
        history = _history(row["messages"])
        shots: list[Mapping] = []
        if k:
            rng = random.Random(f"{seed}:{row['example_id']}")
            others = [p for p in pool if p["session_id"] != row["session_id"]]
            same_agent = [p for p in others if p["agent_id"] == row["agent_id"]]
            same_lang = [p for p in others if p["agent_id"] != row["agent_id"] and p["language"] == row["language"]]
            rng.shuffle(same_agent)
            rng.shuffle(same_lang)
            shots = (same_agent + same_lang)[:k]
        msgs: Messages = [{"role": "system", "content": persona_system(persona, row["language"], len(shots))}]
        for shot in shots:
            msgs.append({"role": "user", "content": _last_user(_history(shot["messages"])) or "..."})
            msgs.append({"role": "assistant", "content": str(shot["reply"])})
        prompts.append(msgs + (history or [{"role": "user", "content": ""}]))
    return prompts
