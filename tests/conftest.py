"""Shared fixtures. The converted SmolLM2 is cached under VVAE_MODELS_DIR (default
<repo>/.vvae/models) so the ~30 s GGUF conversion happens once per machine, not per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vvae_pipeline.variants import VARIANT_GROUPS, expand_variants

# Under CI=true a skip fails unless the test is marked gpu (tests/support/ci_policy.py).
pytest_plugins = ["tests.support.ci_policy"]

REPO = Path(__file__).resolve().parents[1]
# The public corpora beside the repository; VVAE_SHARED_DATA points elsewhere (tests/unit/test_ci_policy.py
# uses it to show that a missing corpus fails under CI=true).
SHARED_DATA = Path(os.environ.get("VVAE_SHARED_DATA") or REPO.parent / "shared" / "data")


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
        pytest.skip(f"public corpora not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _cpu_threads():
    # Two cores shared with whatever else runs: one torch thread beat two by ~3x there.
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("VVAE_TORCH_THREADS", "1")))
    except ImportError:
        pass


# The e2e run's variants: the paper's three, the axis ablations, and one of each kind the sweep and
# sensitivity groups add (a sampling rate, the agent-mode imputation, corruption); rate 0.25 and
# corruption 0.1 run the same code with another number (tests/unit/test_sampling.py), and leaving them
# out saves two adapters and their generation in both runs of the e2e home (CI measured 44 min with
# all 11 on 2 shared cores).
E2E_VARIANTS = (*VARIANT_GROUPS["core"], *VARIANT_GROUPS["ablations"], "sp_ft_rate50", "agent_mode_ft",
                "sp_ft_corrupt30")
# VVAE_E2E_VARIANTS (keys or group names, as --variants takes them) runs fewer: bench/gpu_run.py asks
# for the core three so the GPU e2e fits its call.
if os.environ.get("VVAE_E2E_VARIANTS"):
    E2E_VARIANTS = expand_variants(os.environ["VVAE_E2E_VARIANTS"])


@pytest.fixture(scope="session")
def materialized_home(tmp_path_factory, models_dir, smollm2_path):
    """The whole DAG materialized tiny with every SFT variant, once per test session, by the main
    job's own command line: ``python -m assets.main --size tiny --variants <E2E_VARIANTS>``.

    Real parts only: the packaged SmolLM2 encodes, trains and generates; Dagster runs every job on
    a SQLite instance. Used by the end-to-end and UI tests (and so CI runs the main job itself).
    """
    import json
    import subprocess
    import sys
    from types import SimpleNamespace

    from vvae_pipeline.hashing import sha256_file

    root = tmp_path_factory.mktemp("vvae-e2e")
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster"), "VVAE_HOME": str(root / "home"),
           "VVAE_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    base_weights = Path(smollm2_path) / "model.safetensors"
    base_sha_before = sha256_file(base_weights)
    cmd = [sys.executable, "-m", "assets.main", "--size", "tiny", "--variants", ",".join(E2E_VARIANTS)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    print(proc.stdout[-4000:])
    out = root / "home" / "main_result.json"
    assert out.exists(), f"the main job wrote no result (exit {proc.returncode}): {proc.stderr[-3000:]}"
    res = json.loads(out.read_text())
    result = SimpleNamespace(runs=[tuple(r) for r in res["runs"]], failed_checks=res["failed_checks"],
                             seconds=res["seconds"], exit_code=proc.returncode)
    return SimpleNamespace(vvae_home=root / "home", dagster_home=root / "dagster", result=result,
                           models_dir=models_dir, variants=E2E_VARIANTS, base_sha_before=base_sha_before,
                           base_sha_after=sha256_file(base_weights))
