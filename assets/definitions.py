"""The one place that assembles vvae's Dagster definitions and makes the deployment choice.

Profiles (``VVAE_PROFILE``):
- ``local`` (default): CPU, transformers encoder on the packaged SmolLM2, training in a subprocess,
  Dagster's default executor (every step a local process).
- ``gpu``: one GPU host. vLLM encoder and benchmark generation, training on CUDA through
  ``accelerate launch``. ``VVAE_ENCODER_ENGINE=transformers`` and ``VVAE_GENERATOR_ENGINE=transformers``
  run both on transformers on the GPU instead (a host without vLLM, as bench/gpu_run.sh does).
- ``k8s``: the ``gpu`` resources, plus dagster-k8s' ``k8s_job_executor``: every step is its own
  Kubernetes Job with the CPU defaults of deploy/k8s/executor.yaml and, for the GPU steps, the
  requests of deploy/k8s/gpu_steps.yaml. The instance side (PostgreSQL, ``K8sRunLauncher``) is
  deploy/k8s/dagster.yaml; see docs/production.md.
Storage root: ``VVAE_HOME`` (default ./.vvae; see resources/storage.py). The gpu and k8s
profiles run the trainer subprocess with ``VVAE_TRAINER_PYTHON`` when set (the vLLM GPU
environment cannot hold the training stack's transformers pin; docs/production.md section 4).

Loading this module is cheap: no torch, transformers or vllm import happens here (dagster-k8s
only with the k8s profile).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets import encode, ingest, merge, priors, promotion, report, sft, train
from assets.automation import weekly_chain_sensor
from assets.jobs import JOBS
from assets.retention import raw_retention_job, raw_retention_schedule
from assets.schedules import SCHEDULES
from assets.sensors import SENSORS
from resources.llm import EncoderResource, GeneratorResource, PromptingResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource, vvae_home
from resources.tracking import MLflowResource
from resources.trainer import TrainerResource

STAGE_MODULES = (ingest, encode, priors, sft, train, report, promotion, merge)
PROFILES = ("local", "gpu", "k8s")
# The steps that hold a GPU: each declares pool="gpu" and gets a GPU pod under the k8s profile.
GPU_STEPS = ("persona_extractions", "lora_checkpoint", "test_personas", "benchmark_report")


def deploy_dir() -> Path:
    """deploy/ of the source tree, or VVAE_DEPLOY_DIR (an installed wheel carries no deploy/)."""
    return Path(os.environ.get("VVAE_DEPLOY_DIR") or Path(__file__).resolve().parents[1] / "deploy")


def _read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the k8s profile reads deploy/k8s/ of the source tree; "
                                "set VVAE_DEPLOY_DIR to a folder holding k8s/executor.yaml and k8s/gpu_steps.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s_executor_config() -> dict:
    """deploy/k8s/executor.yaml with deploy/k8s/gpu_steps.yaml as its per_step_k8s_config."""
    folder = deploy_dir() / "k8s"
    return {**_read_yaml(folder / "executor.yaml"), "per_step_k8s_config": _read_yaml(folder / "gpu_steps.yaml")}


def build_executor(profile: str) -> dg.ExecutorDefinition | None:
    if profile != "k8s":
        return None  # Dagster's default: multiprocess in the run worker
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(k8s_executor_config(), name="vvae_k8s")


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
    if profile in ("gpu", "k8s"):
        trainer = TrainerResource(device="cuda", python=os.environ.get("VVAE_TRAINER_PYTHON", ""))
        generator = GeneratorResource(engine=generator_engine(profile), device="cuda", dtype="bfloat16")
    elif profile == "local":
        trainer = TrainerResource(device="cpu")
        # torch's default threads (all cores): on 2 idle cores, 0.68 s per test prompt against 0.99 s
        # with 1 thread (48 test prompts, batch 24, 32 new tokens). When another process holds a core,
        # 1 thread was ~3x faster than 2: set torch_threads=1 then.
        generator = GeneratorResource(engine=generator_engine(profile), device="cpu", dtype="float32")
    else:
        raise ValueError(f"unknown VVAE_PROFILE {profile!r}: expected one of {', '.join(PROFILES)}")
    return {"storage": storage, "io_manager": ParquetIOManager(home=str(home)),
            "encoder": encoder_resource(profile),
            "trainer": trainer, "generator": generator, "prompting": prompting_resource(),
            "pseudonyms": pseudonym_resource(), "mlflow": mlflow_resource()}


def mlflow_resource() -> MLflowResource:
    """MLflow at MLFLOW_TRACKING_URI (read by Dagster at run time) when set, else the embedded
    SQLite store under the storage root (resources/tracking.py); VVAE_MLFLOW=off turns it off."""
    enabled = os.environ.get("VVAE_MLFLOW", "on").lower() not in ("off", "0", "false")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return MLflowResource(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"), enabled=enabled)
    return MLflowResource(enabled=enabled)



def pseudonym_resource() -> PseudonymKeyResource:
    """The ID pseudonym key from VVAE_ID_HMAC_KEY (read by Dagster at run time), else the
    documented development default (resources/pseudonyms.py)."""
    if os.environ.get("VVAE_ID_HMAC_KEY"):
        return PseudonymKeyResource(key=dg.EnvVar("VVAE_ID_HMAC_KEY"))
    return PseudonymKeyResource()


ENCODER_ENGINES = ("transformers", "vllm", "openai")
GENERATOR_ENGINES = ("transformers", "vllm")


def generator_engine(profile: str) -> str:
    """Where the benchmark generates: the profile's engine (transformers for local, vllm for gpu and
    k8s) unless VVAE_GENERATOR_ENGINE names one; a GPU host without vLLM sets it to transformers."""
    engine = (os.environ.get("VVAE_GENERATOR_ENGINE") or "").strip().lower()
    engine = engine or ("transformers" if profile == "local" else "vllm")
    if engine not in GENERATOR_ENGINES:
        raise ValueError(f"unknown VVAE_GENERATOR_ENGINE {engine!r}: expected one of {', '.join(GENERATOR_ENGINES)}")
    return engine


def encoder_resource(profile: str) -> EncoderResource:
    """The persona encoder: the profile's engine (transformers for local, vllm for gpu and k8s) unless
    VVAE_ENCODER_ENGINE names one; VVAE_ENCODER_BASE_URL alone selects openai (an OpenAI-compatible
    endpoint). VVAE_ENCODER_MODEL: the served model name (openai) or a model path/id (the others).
    VVAE_ENCODER_API_KEY is read by Dagster at run time, so its value is in no snapshot or log."""
    url = os.environ.get("VVAE_ENCODER_BASE_URL") or None
    engine = (os.environ.get("VVAE_ENCODER_ENGINE") or "").strip().lower()
    engine = engine or ("openai" if url else "transformers" if profile == "local" else "vllm")
    if engine not in ENCODER_ENGINES:
        raise ValueError(f"unknown VVAE_ENCODER_ENGINE {engine!r}: expected one of {', '.join(ENCODER_ENGINES)}")
    if engine == "openai" and not url:
        raise ValueError("VVAE_ENCODER_ENGINE=openai needs VVAE_ENCODER_BASE_URL (e.g. http://host:8000/v1)")
    if engine != "openai" and url:
        raise ValueError(f"VVAE_ENCODER_BASE_URL is set but VVAE_ENCODER_ENGINE is {engine!r}: "
                         "the endpoint is only used by engine openai")
    # The transformers engine runs where the profile's GPU is (vLLM and openai ignore the device).
    settings = {"device": "cpu" if profile == "local" else "cuda",
                "base_url": url, "model": os.environ.get("VVAE_ENCODER_MODEL") or None,
                "api_key": dg.EnvVar("VVAE_ENCODER_API_KEY") if os.environ.get("VVAE_ENCODER_API_KEY") else None}
    return EncoderResource(engine=engine, **{k: v for k, v in settings.items() if v is not None})


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
    resources = build_resources(profile, home)  # first: an unknown profile fails before anything loads
    return dg.Definitions(
        assets=dg.load_assets_from_modules(STAGE_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(STAGE_MODULES),
        jobs=[*JOBS, raw_retention_job],
        sensors=[*SENSORS, weekly_chain_sensor],
        schedules=[*SCHEDULES, raw_retention_schedule],
        resources=resources,
        executor=build_executor(profile),
    )


defs = build_definitions()
