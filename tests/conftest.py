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
    from vvae_pipeline.llm.models import resolve_model_path

    return resolve_model_path("smollm2-135m", models_dir)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        if os.environ.get("CI", "").lower() == "true":  # CI must run the real-corpus tests, never skip them
            pytest.fail(f"public corpora not found at {SHARED_DATA} (CI=true)")
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


# The paper's three head-to-head variants; the ablations run in the main job.
E2E_VARIANTS = ("ft", "p_ft", "sp_ft")


@pytest.fixture(scope="session")
def materialized_home(tmp_path_factory, models_dir, smollm2_path):
    """The whole DAG materialized tiny, once per test session, for the default backbone.

    Real parts only: the packaged SmolLM2 encodes, trains and generates; Dagster runs every job on
    a SQLite instance under ``.dagster_home``. Used by the end-to-end and UI tests.
    """
    from types import SimpleNamespace

    from assets.main import run_pipeline
    from vvae_pipeline.hashing import sha256_file

    root = tmp_path_factory.mktemp("vvae-e2e")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "VVAE_HOME", "VVAE_MODELS_DIR")}
    os.environ["DAGSTER_HOME"] = str(root / "dagster")
    os.environ["VVAE_HOME"] = str(root / "home")
    os.environ["VVAE_MODELS_DIR"] = str(models_dir)
    base_weights = Path(smollm2_path) / "model.safetensors"
    base_sha_before = sha256_file(base_weights)
    try:
        result = run_pipeline(root / "home", variants=E2E_VARIANTS, size="tiny")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return SimpleNamespace(vvae_home=root / "home", dagster_home=root / "dagster", result=result,
                           models_dir=models_dir, variants=E2E_VARIANTS, base_sha_before=base_sha_before,
                           base_sha_after=sha256_file(base_weights))
