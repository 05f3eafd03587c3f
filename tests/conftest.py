"""Shared fixtures. The converted SmolLM2 is cached under VVAE_MODELS_DIR (default
<repo>/.vvae/models) so the ~30 s GGUF conversion happens once per machine, not per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = Path(os.environ.get("VVAE_MODELS_DIR") or REPO / ".vvae" / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def smollm2_path(models_dir: Path) -> str:
    """Local safetensors copy of the packaged SmolLM2-135M-Instruct (the real default model)."""
    from vvae_pipeline.models import resolve_model_path

    return resolve_model_path("smollm2-135m", models_dir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"public corpora not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _cpu_threads():
    # Two cores shared with whatever else runs: one torch thread is faster (FACTS.md).
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("VVAE_TORCH_THREADS", "1")))
    except ImportError:
        pass
