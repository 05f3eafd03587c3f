"""The one place that assembles vvae's Dagster definitions and makes the deployment choice.

Profiles (``VVAE_PROFILE``):
- ``local`` (default): CPU, transformers encoder on the packaged SmolLM2, training in a subprocess.
- ``gpu``: vLLM encoder, training on CUDA through ``accelerate launch``.
Storage root: ``VVAE_HOME`` (default ./.vvae; see resources/storage.py).

Loading this module is cheap: no torch, transformers or vllm import happens here.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets import encode, ingest, priors, report, sft, train
from assets.jobs import JOBS
from assets.retention import raw_retention_job, raw_retention_schedule
from assets.schedules import SCHEDULES
from assets.sensors import SENSORS
from resources.llm import EncoderResource, GeneratorResource, PromptingResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource, vvae_home
from resources.trainer import TrainerResource

STAGE_MODULES = (ingest, encode, priors, sft, train, report)


REPO = Path(__file__).resolve().parents[1]


def default_corpora() -> str | None:
    """VVAE_CORPORA_DIR, else the public corpora beside a checkout (../shared/data), else none."""
    env = os.environ.get("VVAE_CORPORA_DIR")
    if env:
        return env
    beside = REPO.parent / "shared" / "data"
    return str(beside) if beside.is_dir() else None


def build_resources(profile: str, home: Path) -> dict:
    storage = StorageResource(home=str(home), corpora=default_corpora())
    if profile == "gpu":
        encoder = EncoderResource(engine="vllm")
        trainer = TrainerResource(device="cuda")
        generator = GeneratorResource(engine="vllm", device="cuda", dtype="bfloat16")
    elif profile == "local":
        encoder = EncoderResource(engine="transformers")
        trainer = TrainerResource(device="cpu")
        # 2 shared CPU cores: one torch thread beat two by ~3x while the other core was busy.
        generator = GeneratorResource(engine="transformers", device="cpu", dtype="float32", torch_threads=1)
    else:
        raise ValueError(f"unknown VVAE_PROFILE {profile!r}: expected 'local' or 'gpu'")
    return {"storage": storage, "io_manager": ParquetIOManager(home=str(home)), "encoder": encoder,
            "trainer": trainer, "generator": generator, "prompting": prompting_resource(),
            "pseudonyms": pseudonym_resource()}



def pseudonym_resource() -> PseudonymKeyResource:
    """The ID pseudonym key from VVAE_ID_HMAC_KEY (read by Dagster at run time), else the
    documented development default (resources/pseudonyms.py)."""
    if os.environ.get("VVAE_ID_HMAC_KEY"):
        return PseudonymKeyResource(key=dg.EnvVar("VVAE_ID_HMAC_KEY"))
    return PseudonymKeyResource()


def prompting_resource() -> PromptingResource:
    """The k-shot baselines on an OpenAI-compatible endpoint when VVAE_PROMPTING_BASE_URL is set
    (model: VVAE_PROMPTING_MODEL, key: VVAE_PROMPTING_API_KEY, read by Dagster at run time)."""
    url = os.environ.get("VVAE_PROMPTING_BASE_URL")
    if not url:
        return PromptingResource()
    key = dg.EnvVar("VVAE_PROMPTING_API_KEY") if os.environ.get("VVAE_PROMPTING_API_KEY") else None
    return PromptingResource(base_url=url, model=os.environ.get("VVAE_PROMPTING_MODEL"), api_key=key)


def build_definitions(profile: str | None = None, home: Path | None = None) -> dg.Definitions:
    profile = profile or os.environ.get("VVAE_PROFILE", "local")
    home = Path(home) if home else vvae_home()
    return dg.Definitions(
        assets=dg.load_assets_from_modules(STAGE_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(STAGE_MODULES),
        jobs=[*JOBS, raw_retention_job],
        sensors=SENSORS,
        schedules=[*SCHEDULES, raw_retention_schedule],
        resources=build_resources(profile, home),
    )


defs = build_definitions()
