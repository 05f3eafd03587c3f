"""The code location loads fast, without torch/vllm, and has every asset, check, job, sensor and
partition key the pipeline promises."""

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.definitions import GPU_STEPS, PROFILES, build_definitions, build_resources
from vvae_pipeline.backbones import BACKBONE_KEYS, DEFAULT_BACKBONE
from vvae_pipeline.variants import VARIANT_KEYS

ASSETS = ["raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions", "persona_extractions",
          "persona_priors", "persona_prior_stats", "sft_dataset", "lora_checkpoint", "benchmark_report",
          "promoted_adapter", "merged_model", "declared_profiles"]
LINEAGE = [("raw_sessions", "scrubbed_sessions"), ("scrubbed_sessions", "persona_extractions"),
           ("persona_extractions", "persona_priors"), ("persona_priors", "sft_dataset"),
           ("sft_dataset", "lora_checkpoint"), ("lora_checkpoint", "benchmark_report"),
           ("benchmark_report", "promoted_adapter"), ("lora_checkpoint", "merged_model"),
           ("scrubbed_sessions", "declared_profiles"), ("declared_profiles", "test_personas"),
           ("declared_profiles", "benchmark_report")]


def test_every_asset_with_lineage(tmp_path):
    graph = build_definitions(home=tmp_path).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(ASSETS) <= keys
    for up, down in LINEAGE:
        parents = {p.to_user_string() for p in graph.get(dg.AssetKey(down)).parent_keys}
        assert up in parents, f"{down} should depend on {up}, has {parents}"


def test_partitions_come_from_the_registries(tmp_path):
    defs = build_definitions(home=tmp_path)
    graph = defs.resolve_asset_graph()
    report = graph.get(dg.AssetKey("benchmark_report")).partitions_def
    assert report.get_partition_keys() == list(BACKBONE_KEYS) and DEFAULT_BACKBONE in BACKBONE_KEYS
    lora = graph.get(dg.AssetKey("lora_checkpoint")).partitions_def
    assert {str(k) for k in lora.get_partition_keys()} == {f"{b}|{v}" for b in BACKBONE_KEYS for v in VARIANT_KEYS}
    assert graph.get(dg.AssetKey("sft_dataset")).partitions_def == lora
    assert graph.get(dg.AssetKey("merged_model")).partitions_def == lora
    batch = graph.get(dg.AssetKey("raw_sessions")).partitions_def
    assert isinstance(batch, dg.DynamicPartitionsDefinition)


def test_jobs_sensors_schedules_and_checks(tmp_path):
    defs = build_definitions(home=tmp_path)
    for job in ("batch_job", "priors_job", "train_job", "report_job", "merge_job"):
        assert defs.resolve_job_def(job).name == job
    assert defs.resolve_sensor_def("landing_sensor")
    assert defs.resolve_sensor_def("vvae_weekly_chain").default_status == dg.DefaultSensorStatus.STOPPED
    assert list(defs.schedules or [])
    checks = {(c.asset_key.to_user_string(), c.name) for c in defs.resolve_asset_graph().asset_check_keys}
    assert ("persona_priors", "probabilities_sum_to_one") in checks
    assert ("persona_priors", "schema") in checks
    assert ("scrubbed_sessions", "no_pii") in checks
    assert ("promoted_adapter", "challenger_promoted") in checks
    report_job = defs.resolve_job_def("report_job")
    assert "promoted_adapter" in {n.name for n in report_job.nodes_in_topological_order}


@pytest.mark.parametrize("profile", ["local", "k8s"])
def test_code_location_loads_without_heavy_imports(profile):
    import os

    code = ("import sys, time; t = time.time(); import assets.definitions; "
            "print(round(time.time() - t, 1), 'torch' in sys.modules, 'vllm' in sys.modules, 'openai' in sys.modules)")
    env = {**os.environ, "VVAE_PROFILE": profile}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env).stdout.split()
    assert out[1:] == ["False", "False", "False"], out
    assert float(out[0]) < 20, f"definitions took {out[0]} s to import"


def test_unknown_profile_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="VVAE_PROFILE"):
        build_definitions(profile="cloud", home=tmp_path)


@pytest.mark.parametrize("profile", PROFILES)
def test_gpu_steps_are_in_the_gpu_pool(tmp_path, profile):
    """The instance's `gpu` pool (deploy/dagster.yaml: one slot unless set) counts exactly the steps
    that hold a GPU, and those are the steps deploy/k8s/gpu_steps.yaml gives GPUs."""
    from dagster._core.execution.api import create_execution_plan

    defs = build_definitions(profile=profile, home=tmp_path)
    graph = defs.resolve_asset_graph()
    in_pool = {k.to_user_string() for k in graph.get_all_asset_keys() if "gpu" in graph.get(k).pools}
    assert in_pool == set(GPU_STEPS)
    gpu_requests = yaml.safe_load((Path(__file__).parents[1] / "deploy" / "k8s" / "gpu_steps.yaml").read_text())
    assert set(gpu_requests) == set(GPU_STEPS)
    # What the run worker claims a slot for: the pool on each execution-plan step.
    steps = {}
    for job in ("batch_job", "train_job", "report_job", "priors_job"):
        steps.update({s.key: s.pool for s in create_execution_plan(defs.resolve_job_def(job)).steps})
    assert {k for k, pool in steps.items() if pool == "gpu"} == set(GPU_STEPS), steps
    assert {pool for k, pool in steps.items() if k not in GPU_STEPS} == {None}


ENCODER_ENV = ("VVAE_ENCODER_ENGINE", "VVAE_ENCODER_BASE_URL", "VVAE_ENCODER_MODEL", "VVAE_ENCODER_API_KEY",
               "VVAE_GENERATOR_ENGINE")


@pytest.fixture
def encoder_env(monkeypatch):
    for name in ENCODER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("profile, engine", [("local", "transformers"), ("gpu", "vllm"), ("k8s", "vllm")])
def test_encoder_engine_defaults_to_the_profiles(encoder_env, tmp_path, profile, engine):
    encoder = build_resources(profile, tmp_path)["encoder"]
    assert (encoder.engine, encoder.base_url, encoder.api_key) == (engine, None, None)
    encoder_env.setenv("VVAE_ENCODER_ENGINE", "vllm" if engine == "transformers" else "transformers")
    assert build_resources(profile, tmp_path)["encoder"].engine != engine


@pytest.mark.parametrize("profile, engine, device", [("local", "transformers", "cpu"), ("gpu", "vllm", "cuda"),
                                                     ("k8s", "vllm", "cuda")])
def test_generator_engine_and_devices_follow_the_profile_unless_overridden(encoder_env, tmp_path, profile, engine,
                                                                          device):
    resources = build_resources(profile, tmp_path)
    assert (resources["generator"].engine, resources["generator"].device) == (engine, device)
    assert resources["encoder"].device == device  # the transformers encoder runs on the profile's GPU
    other = "vllm" if engine == "transformers" else "transformers"
    encoder_env.setenv("VVAE_GENERATOR_ENGINE", other.upper())
    resources = build_resources(profile, tmp_path)
    assert (resources["generator"].engine, resources["generator"].device) == (other, device)


def test_an_unknown_generator_engine_is_a_clear_error(encoder_env, tmp_path):
    encoder_env.setenv("VVAE_GENERATOR_ENGINE", "tgi")
    with pytest.raises(ValueError, match="unknown VVAE_GENERATOR_ENGINE 'tgi': expected one of transformers, vllm"):
        build_definitions(profile="gpu", home=tmp_path)


def test_encoder_endpoint_from_env_vars_reaches_the_engine(encoder_env, tmp_path):
    """VVAE_ENCODER_*: a code location pointed at an OpenAI-compatible endpoint with no code edit; the
    key is read by Dagster at run time, is in no snapshot and reaches the endpoint as the bearer token."""
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    from tests.unit.test_engines import PROMPTS, SCHEMA, _Server

    server = _Server([])
    try:
        secret = "sk-encoder-7f3a"
        encoder_env.setenv("VVAE_ENCODER_ENGINE", "openai")
        encoder_env.setenv("VVAE_ENCODER_BASE_URL", server.url)
        encoder_env.setenv("VVAE_ENCODER_MODEL", "served-encoder")
        encoder_env.setenv("VVAE_ENCODER_API_KEY", secret)
        defs = build_definitions(profile="gpu", home=tmp_path)
        encoder = defs.resources["encoder"]
        assert (encoder.engine, encoder.base_url, encoder.model) == ("openai", server.url, "served-encoder")
        assert isinstance(encoder.api_key, dg.EnvVar)
        snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
        assert "VVAE_ENCODER_API_KEY" in snapshot and secret not in snapshot
        with dg.build_resources({"encoder": encoder}) as resources:  # resolved as a run resolves it
            engine = resources.encoder.build_engine()
        [res] = engine.generate_json(PROMPTS[:1], [SCHEMA], max_tokens=16)
        assert res.finish_reason == "stop"
        assert server.requests[0]["model"] == "served-encoder"
        assert server.headers[0]["authorization"] == f"Bearer {secret}"
    finally:
        server.close()


def test_encoder_base_url_alone_selects_openai(encoder_env, tmp_path):
    encoder_env.setenv("VVAE_ENCODER_BASE_URL", "http://127.0.0.1:8000/v1")
    encoder = build_resources("local", tmp_path)["encoder"]
    assert (encoder.engine, encoder.api_key) == ("openai", None)


@pytest.mark.parametrize("env, message", [
    ({"VVAE_ENCODER_ENGINE": "gpt"}, "unknown VVAE_ENCODER_ENGINE 'gpt': expected one of transformers, vllm, openai"),
    ({"VVAE_ENCODER_ENGINE": "openai"}, "needs VVAE_ENCODER_BASE_URL"),
    ({"VVAE_ENCODER_ENGINE": "vllm", "VVAE_ENCODER_BASE_URL": "http://h/v1"}, "only used by engine openai"),
])
def test_encoder_misconfiguration_is_a_clear_error(encoder_env, tmp_path, env, message):
    for name, value in env.items():
        encoder_env.setenv(name, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        build_definitions(profile="local", home=tmp_path)
