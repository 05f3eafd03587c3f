"""Every file in deploy/ loads and validates against the schema of the thing that will read it:
Dagster's instance schema, dagster-k8s' run launcher / executor / step-config schemas, the real
vvae jobs' run-config schemas. No cluster or GPU is needed: the Kubernetes Job objects are built
offline by dagster-k8s' own constructor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTANCE_FILES = [DEPLOY / "dagster.yaml", DEPLOY / "k8s" / "dagster.yaml"]
PG_FIELDS = ("hostname", "port", "username", "password", "db_name")
GPU_ASSETS = {"persona_extractions", "lora_checkpoint", "test_personas", "benchmark_report"}


def _load(path: Path):
    return yaml.safe_load(path.read_text())


def test_every_deploy_file_is_covered_here():
    # A new file in deploy/ must get a validation below, not ride along untested.
    covered = {*INSTANCE_FILES, DEPLOY / "k8s" / "gpu_steps.yaml", DEPLOY / "k8s" / "executor.yaml",
               *DEPLOY.glob("run_config/*.yaml")}
    on_disk = {p for p in DEPLOY.rglob("*") if p.is_file()}
    assert on_disk == covered, f"untested deploy files: {sorted(map(str, on_disk - covered))}"
    assert len(list(DEPLOY.glob("run_config/*.yaml"))) >= 2


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_instance_yaml_validates_and_takes_credentials_from_env(path):
    config, custom_class = dagster_instance_config(str(path.parent), path.name)
    assert custom_class is None
    pg = config["storage"]["postgres"]["postgres_db"]
    for field in PG_FIELDS:  # every credential is an env reference, never a literal
        assert set(pg[field]) == {"env"} and pg[field]["env"].startswith("DAGSTER_PG_"), field
    assert pg["scheme"] == "postgresql+psycopg2"
    assert config["concurrency"]["pools"]["granularity"] == "op"
    assert config["telemetry"]["enabled"] is False


def test_k8s_run_launcher_config_validates(monkeypatch):
    from dagster_k8s import K8sRunLauncher

    config, _ = dagster_instance_config(str(DEPLOY / "k8s"), "dagster.yaml")
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    for var in ("VVAE_IMAGE", "VVAE_K8S_NAMESPACE"):
        monkeypatch.setenv(var, "vvae-test")
    result = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, result.errors
    assert result.value["job_image"] == "vvae-test"
    monkeypatch.delenv("VVAE_IMAGE")  # an unset variable is an error at load, not an empty image
    assert not process_config(K8sRunLauncher.config_type(), launcher["config"]).success


def _gpu_steps() -> dict:
    return _load(DEPLOY / "k8s" / "gpu_steps.yaml")


def _step_job(step_config: dict):
    from dagster_k8s.job import (
        DagsterK8sJobConfig,
        UserDefinedDagsterK8sConfig,
        construct_dagster_k8s_job,
    )

    job_config = DagsterK8sJobConfig(job_image="vvae:test", dagster_home="/opt/dagster/dagster_home",
                                     instance_config_map="vvae-dagster-instance")
    return construct_dagster_k8s_job(job_config, ["dagster", "api", "execute_step"], "dagster-step-test",
                                     user_defined_k8s_config=UserDefinedDagsterK8sConfig.from_dict(step_config))


def _gpus(step_config: dict) -> int:
    container = _step_job(step_config).spec.template.spec.containers[0]
    assert container.resources.requests["nvidia.com/gpu"] == container.resources.limits["nvidia.com/gpu"]
    return int(container.resources.limits["nvidia.com/gpu"])


def test_gpu_steps_build_pods_that_request_gpus():
    steps = _gpu_steps()
    assert set(steps) == GPU_ASSETS
    for name, step in steps.items():
        pod = _step_job(step).spec.template.spec
        assert _gpus(step) >= 1, name
        assert pod.node_selector == {"nvidia.com/gpu.present": "true"}, name
        assert any(t.key == "nvidia.com/gpu" and t.effect == "NoSchedule" for t in pod.tolerations), name
        if _gpus(step) > 1:  # multi-GPU steps talk over NCCL through /dev/shm
            mounts = {m.mount_path: m.name for m in pod.containers[0].volume_mounts}
            shm = next(v for v in pod.volumes if v.name == mounts["/dev/shm"])
            assert shm.empty_dir.medium == "Memory", name


def test_gpu_steps_as_op_tags_are_read_by_dagster_k8s():
    from dagster_k8s.job import get_user_defined_k8s_config

    step = _gpu_steps()["lora_checkpoint"]

    @dg.asset(op_tags={"dagster-k8s/config": step})
    def lora_checkpoint():
        return None

    tags = lora_checkpoint.op.tags
    parsed = get_user_defined_k8s_config(tags)
    assert parsed.container_config["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert _gpus(step) == 4


def test_k8s_executor_config_with_per_step_gpu_requests_validates():
    from dagster_k8s import k8s_job_executor

    executor = {**_load(DEPLOY / "k8s" / "executor.yaml"), "per_step_k8s_config": _gpu_steps()}
    result = process_config(k8s_job_executor.config_schema.config_type, executor)
    assert result.success, result.errors
    assert set(result.value["per_step_k8s_config"]) == GPU_ASSETS
    bad = {**executor, "per_step_k8s_config": {"lora_checkpoint": {"container": {}}}}
    assert not process_config(k8s_job_executor.config_schema.config_type, bad).success


def test_engine_parallelism_matches_the_gpus_requested():
    steps = _gpu_steps()
    encoder = _load(DEPLOY / "run_config" / "encode_vllm_tp.yaml")["resources"]["encoder"]["config"]
    trainer = _load(DEPLOY / "run_config" / "train_accelerate.yaml")["resources"]["trainer"]["config"]
    assert encoder["engine"] == "vllm"
    assert encoder["tensor_parallel_size"] == _gpus(steps["persona_extractions"])
    assert trainer["num_processes"] == _gpus(steps["lora_checkpoint"])


@pytest.mark.parametrize("name, job", [("encode_vllm_tp.yaml", "batch_job"),
                                       ("train_accelerate.yaml", "train_job")])
def test_run_config_validates_against_the_gpu_job(tmp_path, name, job):
    try:
        from assets.definitions import build_definitions
    except ImportError as exc:  # the stage modules are assembled by assets/definitions.py
        pytest.skip(f"assets.definitions does not import yet: {exc}")
    defs = build_definitions(profile="gpu", home=tmp_path)
    run_config = _load(DEPLOY / "run_config" / name)
    resolved = dg.validate_run_config(defs.resolve_job_def(job), run_config)
    key = next(iter(run_config["resources"]))
    assert resolved["resources"][key]["config"].items() >= run_config["resources"][key]["config"].items()
    broken = {"resources": {key: {"config": {"no_such_field": 1}}}}
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(defs.resolve_job_def(job), broken)
