"""The `k8s` profile, loaded from assets/definitions.py and checked with dagster-k8s' own code.

What runs here, without a cluster: the profile's executor config against k8s_job_executor's
schema; deploy/k8s/dagster.yaml against Dagster's instance schema, dagster-postgres' storage schema
and K8sRunLauncher's schema; a real K8sRunLauncher and K8sStepHandler (built on a kubeconfig that
points nowhere) that merge run-launcher, executor and per-step config exactly as they do before
creating a step Job, for every step of every job. What needs a cluster: the API calls that create
the Jobs, image pulls, GPU scheduling, the shared volume (docs/production.md, section 3).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from assets.definitions import GPU_STEPS, build_definitions, k8s_executor_config
from resources.llm import PromptingResource

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
JOBS = ("batch_job", "priors_job", "train_job", "report_job")


@dg.asset
def uses_prompting(prompting: PromptingResource) -> None:
    return None


@pytest.fixture
def k8s_env(monkeypatch):
    for var, value in {"VVAE_IMAGE": "registry.example/vvae:test", "VVAE_K8S_NAMESPACE": "vvae"}.items():
        monkeypatch.setenv(var, value)


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    return build_definitions(profile="k8s", home=tmp_path)


def test_every_job_runs_on_the_configured_k8s_job_executor(defs):
    from dagster_k8s import k8s_job_executor

    expected = process_config(k8s_job_executor.config_schema.config_type, k8s_executor_config())
    assert expected.success, expected.errors
    for name in JOBS:
        job = defs.resolve_job_def(name)
        assert job.executor_def.name == "vvae_k8s", name
        # What Dagster hands the executor at run time: the configured values, validated.
        resolved = dg.validate_run_config(job, {})["execution"]["vvae_k8s"]
        assert resolved == {k: v for k, v in expected.value.items() if k in resolved}, name
        assert set(resolved["per_step_k8s_config"]) == set(GPU_STEPS)


def test_local_and_gpu_profiles_keep_the_default_executor(tmp_path):
    for profile in ("local", "gpu"):
        job = build_definitions(profile=profile, home=tmp_path).resolve_job_def("train_job")
        assert job.executor_def.name == "multi_or_in_process_executor", profile


def test_k8s_profile_resources_match_the_gpu_profile(defs):
    resources = defs.resources
    assert resources["encoder"].engine == "vllm"
    assert resources["trainer"].device == "cuda"


def test_secrets_enter_only_through_env_vars(tmp_path, monkeypatch):
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster._serdes import serialize_value

    secret = "sk-test-4c1b9e"
    monkeypatch.setenv("VVAE_PROMPTING_BASE_URL", "http://llm.internal/v1")
    monkeypatch.setenv("VVAE_PROMPTING_MODEL", "served")
    monkeypatch.setenv("VVAE_PROMPTING_API_KEY", secret)
    defs = build_definitions(profile="k8s", home=tmp_path)
    assert isinstance(defs.resources["prompting"].api_key, dg.EnvVar)
    # What the code server sends to the webserver and stores with each run: no secret in it.
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    assert "VVAE_PROMPTING_API_KEY" in snapshot and secret not in snapshot
    # The same check catches a literal key (what it would look like if someone passed the value).
    leaky = dg.Definitions(assets=[uses_prompting], resources={
        "prompting": PromptingResource(base_url="http://llm.internal/v1", model="served", api_key=secret)})
    assert secret in serialize_value(RepositorySnap.from_def(leaky.get_repository_def()))


def test_k8s_instance_validates_against_dagster_postgres_and_dagster_k8s(k8s_env, monkeypatch):
    from dagster_k8s import K8sRunLauncher
    from dagster_postgres import (
        PostgresEventLogStorage,
        PostgresRunStorage,
        PostgresScheduleStorage,
    )

    config, _ = dagster_instance_config(str(K8S), "dagster.yaml")
    for var in ("DAGSTER_PG_HOST", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(var, "x")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    pg = config["storage"]["postgres"]
    for storage in (PostgresRunStorage, PostgresEventLogStorage, PostgresScheduleStorage):
        result = process_config(storage.config_type(), pg)
        assert result.success, (storage.__name__, result.errors)
    launcher = process_config(K8sRunLauncher.config_type(), config["run_launcher"]["config"])
    assert launcher.success, launcher.errors
    assert "VVAE_PROFILE=k8s" in launcher.value["env_vars"]


@pytest.fixture
def kubeconfig(tmp_path) -> str:
    """A kubeconfig for a cluster that does not exist: enough for dagster-k8s to build its clients."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "none", "user": {"token": "unused"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
    }))
    return str(path)


def _launcher(kubeconfig: str):
    from dagster_k8s import K8sRunLauncher

    config, _ = dagster_instance_config(str(K8S), "dagster.yaml")
    value = process_config(K8sRunLauncher.config_type(), config["run_launcher"]["config"]).value
    return K8sRunLauncher(**{**value, "load_incluster_config": False, "kubeconfig_file": kubeconfig})


def _step_handler(job: dg.JobDefinition, kubeconfig: str):
    """The K8sStepHandler that k8s_job_executor builds from the profile's config (API calls mocked)."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.executor.init import InitExecutorContext
    from dagster_k8s import k8s_job_executor

    config = process_config(k8s_job_executor.config_schema.config_type,
                            {**k8s_executor_config(), "load_incluster_config": False,
                             "kubeconfig_file": kubeconfig}).value

    init = InitExecutorContext(job=InMemoryJob(job), executor_def=k8s_job_executor, executor_config=config,
                               instance=dg.DagsterInstance.ephemeral())
    with mock.patch("dagster_k8s.client.DagsterKubernetesClient.production_client"):
        return k8s_job_executor.executor_creation_fn(init)._step_handler


def _step_pods(job: dg.JobDefinition, kubeconfig: str) -> dict:
    """step key -> the V1Job dagster-k8s would create for it, merged as K8sStepHandler.launch_step does."""
    from dagster_k8s.job import construct_dagster_k8s_job

    launcher, handler = _launcher(kubeconfig), _step_handler(job, kubeconfig)
    run = dg.DagsterRun(job_name=job.name, run_id="0123abcd")
    pods = {}
    for node in job.graph.nodes:
        key = node.name
        ctx = SimpleNamespace(
            execute_step_args=SimpleNamespace(step_keys_to_execute=[key]), dagster_run=run,
            instance=SimpleNamespace(run_launcher=launcher), step_tags={key: node.definition.tags},
            get_step_context=lambda k, n=node: SimpleNamespace(step=SimpleNamespace(op_name=n.name)))
        context = handler._get_container_context(ctx)
        job_config = context.get_k8s_job_config(None, launcher)
        pods[key] = (construct_dagster_k8s_job(job_config, ["dagster", "api", "execute_step"], f"dagster-step-{key}",
                                               user_defined_k8s_config=context.run_k8s_config), context.namespace)
    return pods


def test_step_pods_request_gpus_only_for_the_gpu_steps(defs, kubeconfig, k8s_env):
    gpu_steps = yaml.safe_load((K8S / "gpu_steps.yaml").read_text())
    seen = set()
    for name in JOBS:
        for key, (k8s_job, namespace) in _step_pods(defs.resolve_job_def(name), kubeconfig).items():
            seen.add(key)
            assert namespace == "vvae", key
            pod = k8s_job.spec.template.spec
            container = pod.containers[0]
            assert container.image == "registry.example/vvae:test", key
            env = {e.name: e.value for e in container.env}
            assert env["VVAE_PROFILE"] == "k8s" and env["VVAE_HOME"] == "/data/vvae", key
            mounts = {m.mount_path for m in container.volume_mounts}
            assert "/data/vvae" in mounts, key  # the shared volume from the run launcher
            limits = container.resources.limits or {}
            if key in GPU_STEPS:
                want = gpu_steps[key]["container_config"]["resources"]["limits"]["nvidia.com/gpu"]
                assert limits["nvidia.com/gpu"] == want, key
                assert pod.node_selector == {"nvidia.com/gpu.present": "true"}, key
            else:  # executor.yaml's CPU defaults, no GPU
                assert "nvidia.com/gpu" not in limits, key
                assert container.resources.requests == {"cpu": "2", "memory": "8Gi"}, key
    assert set(GPU_STEPS) <= seen


def test_a_gpu_step_without_its_request_is_caught(defs, kubeconfig, k8s_env, monkeypatch, tmp_path):
    # The check above can fail: drop lora_checkpoint's entry and its pod asks for no GPU.
    steps = yaml.safe_load((K8S / "gpu_steps.yaml").read_text())
    del steps["lora_checkpoint"]
    folder = tmp_path / "deploy" / "k8s"
    folder.mkdir(parents=True)
    (folder / "gpu_steps.yaml").write_text(yaml.safe_dump(steps))
    (folder / "executor.yaml").write_text((K8S / "executor.yaml").read_text())
    monkeypatch.setenv("VVAE_DEPLOY_DIR", str(tmp_path / "deploy"))
    pods = _step_pods(build_definitions(profile="k8s", home=tmp_path).resolve_job_def("train_job"), kubeconfig)
    container = pods["lora_checkpoint"][0].spec.template.spec.containers[0]
    assert "nvidia.com/gpu" not in (container.resources.limits or {})


def test_k8s_profile_without_deploy_files_says_where_to_look(tmp_path, monkeypatch):
    monkeypatch.setenv("VVAE_DEPLOY_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="VVAE_DEPLOY_DIR"):
        build_definitions(profile="k8s", home=tmp_path)
