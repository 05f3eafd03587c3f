"""Reruns and writers beside each other (assets/rerun.py, resources/home_lock.py, StorageResource):
what a step's metadata says it reused, runs left in flight by a killed main job vs runs launched
elsewhere, and a run's step waiting for (or failing on) a home another process holds."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

import resources.storage as storage_mod
from assets.rerun import MAIN_JOB_TAG, RunsInFlight, settle_in_flight_runs, step_work
from resources.home_lock import home_lock, lock_holder
from resources.storage import StorageResource

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("asset", "metadata", "reused", "text"), [
    ("persona_extractions", {"cached_items": 48, "generated_items": 0}, True, "48 extraction(s) from the cache"),
    ("persona_extractions", {"cached_items": 16, "generated_items": 32}, False, "32 generated"),
    ("lora_checkpoint", {"steps": 30, "resumed_from_step": 30}, True, "reloaded"),
    ("lora_checkpoint", {"steps": 30, "resumed_from_step": 10}, False, "resumed at step 10 of 30"),
    ("lora_checkpoint", {"steps": 30, "resumed_from_step": 0}, False, "trained 30 steps"),
    ("benchmark_report", {}, False, "generated and scored again"),
])
def test_step_work_reads_reuse_off_the_metadata(asset, metadata, reused, text):
    work = step_work(asset, "p", {k: dg.IntMetadataValue(v) for k, v in metadata.items()})
    assert work.reused is reused and text in work.text


def test_step_work_is_silent_without_its_keys():
    assert step_work("persona_extractions", "p", {"rows": 3}) is None
    assert step_work("persona_priors", "", {"rows": 3}) is None


def test_a_dead_main_jobs_runs_are_marked_failed_and_others_refuse():
    instance = dg.DagsterInstance.ephemeral()
    dead = create_run_for_test(instance, job_name="train_job", status=dg.DagsterRunStatus.STARTED,
                               tags={MAIN_JOB_TAG: "1"})
    done = create_run_for_test(instance, job_name="batch_job", status=dg.DagsterRunStatus.SUCCESS)
    assert settle_in_flight_runs(instance) == [dead.run_id]
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(done.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert settle_in_flight_runs(instance) == []

    sensor_run = create_run_for_test(instance, job_name="batch_job", status=dg.DagsterRunStatus.STARTING,
                                     tags={"dagster/sensor_name": "landing_sensor"})
    with pytest.raises(RunsInFlight, match=f"batch_job {sensor_run.run_id[:8]} \\(STARTING\\)"):
        settle_in_flight_runs(instance)
    assert instance.get_run_by_id(sensor_run.run_id).status == dg.DagsterRunStatus.STARTING  # not touched


def test_main_job_refuses_while_a_run_from_elsewhere_is_in_flight(tmp_path):
    import os

    env = {**os.environ, "VVAE_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    code = ("import dagster as dg; from dagster._core.test_utils import create_run_for_test; "
            "create_run_for_test(dg.DagsterInstance.get(), job_name='batch_job', "
            "status=dg.DagsterRunStatus.STARTED)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env, timeout=120)
    proc = subprocess.run([sys.executable, "-m", "assets.main", "--size", "tiny"], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "launched outside the main job are queued or running" in proc.stderr
    assert not (tmp_path / "home" / "landing").exists()  # refused before landing anything


@dg.asset
def _writes(storage: StorageResource) -> None:
    (storage.root / "written.txt").write_text("x")


def _materialize(home: Path):
    return dg.materialize([_writes], resources={"storage": StorageResource(home=str(home))},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


HOLDER = """
import sys, time
from resources.home_lock import home_lock
with home_lock(sys.argv[1], what="test holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_runs_step_waits_for_the_holder_then_writes(tmp_path, capfd):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "3"], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        res = _materialize(tmp_path)
        assert res.success
        assert time.monotonic() - t0 >= 1.0  # it waited for the holder instead of writing beside it
        assert (tmp_path / "written.txt").read_text() == "x"
        err = capfd.readouterr().err
        assert "waiting for" in err and "test holder" in err, err[-2000:]
    finally:
        proc.kill()
        proc.wait()
    assert lock_holder(tmp_path) is None  # the step released it


def test_a_runs_step_fails_clearly_when_the_holder_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_mod, "STEP_LOCK_WAIT_S", 1)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), "60"], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        res = _materialize(tmp_path)
        assert not res.success
        failure = next(ev for ev in res.all_events if ev.is_failure)
        assert f"in use by pid {proc.pid}" in str(failure.event_specific_data.error)
        assert not (tmp_path / "written.txt").exists()
    finally:
        proc.kill()
        proc.wait()


def test_the_main_jobs_own_steps_run_under_its_lock(tmp_path):
    with home_lock(tmp_path, what="main job"):
        res = _materialize(tmp_path)  # re-entrant: it would otherwise wait for itself
        assert res.success and (tmp_path / "written.txt").exists()
        assert "main job" in lock_holder(tmp_path)  # still held after the nested hold ended
    assert lock_holder(tmp_path) is None
