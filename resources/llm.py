"""The persona encoder as a Dagster resource: which engine, which model, where it runs.

    EncoderResource(engine="transformers")                      # local CPU/GPU, packaged SmolLM2
    EncoderResource(engine="vllm", backbone="qwen2.5-7b-instruct", tensor_parallel_size=2)
    EncoderResource(engine="openai", base_url="http://127.0.0.1:8000/v1", model="served-name",
                    api_key=dg.EnvVar("VVAE_ENCODER_API_KEY"))

Prompt settings follow the engine unless set: the local transformers engine runs the small packaged
model, so open fields choose among candidate spans and closed options stay in the grammar
(``constrain_open=True, show_closed_options=False``); vllm and openai are for strong instruct models,
which write spans themselves (grounding still checks them) and read the closed options
(``constrain_open=False, show_closed_options=True``).

The api key is only handed to the engine; it is never logged or put in metadata. Heavy imports
(torch, transformers, vllm, openai) happen when an engine is built or called, not at import time: the engine
modules imported here for their defaults import only the standard library at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from resources.fields import config_only, param_field
from vvae_pipeline.backbones import DEFAULT_BACKBONE, default_models_dir, get_backbone
from vvae_pipeline.llm.engines import TransformersEngine, VLLMEngine
from vvae_pipeline.llm.generation import HFGenerator, VLLMGenerator
from vvae_pipeline.llm.openai_engine import OpenAIEngine
from vvae_pipeline.params import ExtractParams


class EncoderResource(dg.ConfigurableResource):
    engine: Literal["transformers", "vllm", "openai"] = Field(
        default="transformers", description="transformers (local), vllm (offline batch) or openai (HTTP endpoint)")
    backbone: str = Field(default=DEFAULT_BACKBONE, description="backbone registry key of the encoder model")
    model: str | None = Field(default=None, description="model path/id overriding the backbone; for openai the "
                                                        "served model name (default: the backbone's hub id)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    api_key: str | None = Field(default=None, description="endpoint key; pass dg.EnvVar(...), never a literal")
    max_new_tokens: int = param_field(ExtractParams, "max_new_tokens")
    batch_size: int = param_field(ExtractParams, "batch_size")
    dtype: str | None = config_only(None, "weights dtype; None: the backbone's (backbones.Backbone.default_dtype)")
    device: str = param_field(TransformersEngine, "device", "transformers engine device: cpu or cuda")
    tensor_parallel_size: int = param_field(VLLMEngine, "tensor_parallel_size", "vllm: GPUs per model")
    max_model_len: int = param_field(VLLMEngine, "max_model_len", "vllm: context length to reserve KV cache for")
    enforce_eager: bool = param_field(VLLMEngine, "enforce_eager", "vllm: skip graph capture (34 s vs 120 s start "
                                      "on CPU)")
    max_concurrency: int = param_field(OpenAIEngine, "max_concurrency", "openai: requests in flight")
    max_retries: int = param_field(OpenAIEngine, "max_retries", "openai: retries with exponential backoff")
    # None: follow the engine (prompt_defaults), not ExtractParams' defaults (those suit the small local model).
    constrain_open: bool | None = config_only(None, "open fields choose among candidate spans; None: True for "
                                              "transformers, False for vllm/openai")
    show_closed_options: bool | None = config_only(None, "list closed value sets in the prompt; None: False for "
                                                   "transformers, True otherwise")
    models_dir: str | None = Field(default=None, description="converted weights folder (default: "
                                                             "$VVAE_MODELS_DIR or <storage>/models)")

    def prompt_defaults(self) -> dict[str, bool]:
        strong = self.engine != "transformers"
        return {"constrain_open": (not strong) if self.constrain_open is None else self.constrain_open,
                "show_closed_options": strong if self.show_closed_options is None else self.show_closed_options}

    def model_label(self) -> str:
        return self.model or self.backbone

    def build_engine(self, models_dir: Path | str | None = None):
        """The configured engine (no model is loaded until its first call)."""
        if self.engine == "openai":
            if not self.base_url:
                raise ValueError("EncoderResource(engine='openai') needs base_url")
            return OpenAIEngine(self.base_url, self.model or get_backbone(self.backbone).hub_id,
                                api_key=self.api_key, max_concurrency=self.max_concurrency,
                                max_retries=self.max_retries)
        path = self.model or self._resolve(models_dir)
        dtype = self.dtype or get_backbone(self.backbone).default_dtype
        if self.engine == "vllm":
            return VLLMEngine(path, self.model_label(), tensor_parallel_size=self.tensor_parallel_size, dtype=dtype,
                              max_model_len=self.max_model_len, enforce_eager=self.enforce_eager)
        return TransformersEngine(path, self.model_label(), batch_size=self.batch_size, dtype=dtype,
                                  device=self.device)

    def _resolve(self, models_dir: Path | str | None) -> str:
        from vvae_pipeline.llm.models import resolve_model_path

        folder = self.models_dir or models_dir or default_models_dir()
        return resolve_model_path(self.backbone, Path(folder))


class PromptingResource(dg.ConfigurableResource):
    """Where the benchmark's k-shot persona-prompting baselines run (the paper's API baselines).

    With no ``base_url`` they run on the local base model; with one, on any OpenAI-compatible
    endpoint (a `vllm serve` server or a hosted model), the key passed as ``dg.EnvVar``.
    """

    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL; None: the local base model")
    model: str | None = Field(default=None, description="served model name")
    api_key: str | None = Field(default=None, description="endpoint key; pass dg.EnvVar(...), never a literal")
    max_concurrency: int = param_field(OpenAIEngine, "max_concurrency", "requests in flight")
    max_retries: int = param_field(OpenAIEngine, "max_retries", "retries with exponential backoff")

    def label(self) -> str:
        return f"openai-compatible:{self.model}" if self.base_url else "local base model"

    def generate_fn(self, max_new_tokens: int):
        """``generate(list_of_messages) -> list[str]`` on the endpoint, or None for the local model."""
        if not self.base_url:
            return None
        if not self.model:
            raise ValueError("PromptingResource with base_url needs model")
        engine = OpenAIEngine(self.base_url, self.model, api_key=self.api_key, max_concurrency=self.max_concurrency,
                              max_retries=self.max_retries)
        return lambda prompts: engine.chat_text(list(prompts), max_new_tokens)


class GeneratorResource(dg.ConfigurableResource):
    """Where the benchmark generates: one engine for the base model and every adapter of a backbone.

    ``transformers``: HF + PEFT, adapters swapped on one base model (CPU fp32, or CUDA bf16).
    ``vllm``: one vLLM engine, one LoRARequest per adapter, batched; DialogBench's letter scoring
    still runs on transformers, on ``device``. Chosen by the profile in assets/definitions.py.
    """

    engine: Literal["transformers", "vllm"] = Field(default="transformers", description="transformers or vllm")
    device: str = param_field(HFGenerator, "device", "transformers device: cpu or cuda")
    dtype: str = param_field(HFGenerator, "dtype", "float32 on CPU (bf16 is ~250x slower there), bfloat16 on GPU")
    torch_threads: int = config_only(0, "CPU threads for transformers; 0 keeps torch's default")
    vllm_enforce_eager: bool = Field(default=False, description="skip graph capture (34 s vs 120-140 s start on CPU)")
    vllm_max_model_len: int = Field(default=4096, description="context length to reserve KV cache for")
    vllm_max_lora_rank: int = param_field(VLLMGenerator, "max_lora_rank", "0: the largest rank among the adapters")
    vllm_gpu_memory_utilization: float = Field(default=0.85, description="share of GPU memory vLLM may take")

    def _threads(self) -> None:
        if self.torch_threads:
            import torch

            torch.set_num_threads(self.torch_threads)

    def scorer(self, model_path: str):
        """A transformers generator (DialogBench needs letter log-probabilities)."""
        self._threads()
        return HFGenerator(model_path, dtype=self.dtype, device=self.device)

    def build(self, model_path: str):
        """The configured backend: ``generate_all(jobs, decoding)`` over base + adapters."""
        if self.engine == "vllm":
            kwargs = {"dtype": self.dtype, "enforce_eager": self.vllm_enforce_eager,
                      "max_model_len": self.vllm_max_model_len}
            if self.device != "cpu":
                kwargs["gpu_memory_utilization"] = self.vllm_gpu_memory_utilization
            return VLLMGenerator(model_path, self.vllm_max_lora_rank, kwargs)
        return self.scorer(model_path)
