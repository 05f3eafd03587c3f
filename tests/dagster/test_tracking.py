"""MLflowResource: one run per trained adapter in the default SQLite store, registry versions, the
champion alias, benchmark numbers on the training run, and failures that only warn."""

import json
import logging
import time

import pytest

from resources.tracking import MLflowResource, read_run_ids, registered_model_name
from tests.support.train_stats import make_stats
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.stats import TrainStats

BACKBONE = "smollm2-135m"


def fake_trained(out, step_losses=(2.0, 1.5, 1.2)) -> TrainStats:
    """A RunArtifacts folder as a finished run leaves it (no loss curve), with its stats."""
    run = RunArtifacts(out)
    run.adapter.mkdir(parents=True)
    run.adapter_config.write_text(json.dumps({"r": 4}))
    run.adapter_weights.write_bytes(b"\0" * 64)
    run.model_card.write_text("# card\n")
    stats = make_stats(step_losses)
    run.metrics.write_text(stats.to_json())
    return stats


class Log:
    def __init__(self):
        self.warnings = []

    def warning(self, m):
        self.warnings.append(m)

    info = debug = staticmethod(lambda m: None)


def test_training_run_registry_and_benchmark_in_the_default_store(tmp_path):
    log = Log()
    tracker = MLflowResource().tracker(tmp_path, log)
    out = tmp_path / "artifacts" / "lora_checkpoint" / BACKBONE / "sp_ft"
    stats = fake_trained(out)
    info = tracker.log_training(backbone=BACKBONE, variant="sp_ft", out_dir=out, stats=stats,
                                tags={"dagster_run_id": "abc", "sft_sha256": "f00"}, extra_params={"sft.train_rows": 6})
    assert not log.warnings, log.warnings
    assert (tmp_path / "mlflow" / "mlflow.db").is_file()
    assert json.loads(RunArtifacts(out).mlflow.read_text()) == info and info["version"] == "1"
    assert read_run_ids(out.parent, ["ft", "sp_ft"]) == {"sp_ft": info["run_id"]}

    client = tracker.client
    run = client.get_run(info["run_id"])
    assert run.data.params["lora.r"] == "4" and run.data.params["lora.target_modules"] == '["q_proj"]'
    assert run.data.params["sft.train_rows"] == "6" and run.data.tags["dagster_run_id"] == "abc"
    assert run.data.params["learning_rate"] == "0.001" and run.data.params["resolved.device"] == "cpu"
    hist = client.get_metric_history(info["run_id"], "train_loss")
    assert [(m.step, m.value) for m in hist] == [(1, 2.0), (2, 1.5), (3, 1.2)]
    assert {a.path for a in client.list_artifacts(info["run_id"])} >= {"adapter", "README.md", "metrics.json"}
    assert (tmp_path / "mlflow" / "artifacts").is_dir()
    mv = client.get_model_version(registered_model_name(BACKBONE, "sp_ft"), "1")
    assert mv.run_id == info["run_id"] and mv.source.endswith("/adapter")
    assert registered_model_name(BACKBONE, "sp_ft") == "vvae-smollm2-135m-sp_ft"

    # Registry: no champion yet; a second training is version 2; the alias moves.
    assert tracker.champion(BACKBONE) is None
    out2 = tmp_path / "again"
    info2 = tracker.log_training(backbone=BACKBONE, variant="sp_ft", out_dir=out2, stats=fake_trained(out2), tags={})
    assert tracker.latest_version(BACKBONE, "sp_ft")["version"] == info2["version"] == "2"
    assert tracker.set_champion(BACKBONE, "1")
    assert tracker.champion(BACKBONE)["run_id"] == info["run_id"]
    got = tracker.download_adapter(info["run_id"], tmp_path / "dl")
    assert (tmp_path / "dl" / "adapter" / "adapter_config.json").is_file() and got.endswith("adapter")

    summary = {"systems": [{"system": "sp_ft", "status": "ok", "n": 6, "cp": 0.5, "cp_lo": 0.2, "cp_hi": 0.8,
                            "distance": 0.1, "distance_lo": 0.05, "distance_hi": 0.2, "label": "SP+FT"}],
               "dialogbench": {"sp_ft": {"IC-en": {"accuracy": 0.75, "chance": 0.25, "consistent": 0.5}}},
               "comparisons": [{"a": "sp_ft", "b": "ft", "difference": -0.1, "ci": [-0.2, 0.05]}], "headline": "h"}
    assert tracker.log_benchmark(summary, {"sp_ft": info["run_id"]})["sp_ft"] >= 8
    m = client.get_run(info["run_id"]).data.metrics
    assert m["bench/distance"] == 0.1 and m["bench/distance_hi"] == 0.2 and m["bench/cp_lo"] == 0.2
    assert m["bench/dialogbench/IC-en/accuracy"] == 0.75 and m["bench/vs_ft/distance_difference_hi"] == 0.05
    assert not log.warnings, log.warnings  # "no champion yet" is an answer, not a failure


def test_unreachable_server_only_warns(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    log = Log()
    tracker = MLflowResource(tracking_uri="http://127.0.0.1:9").tracker(tmp_path, log)
    out = tmp_path / "a"
    t0 = time.perf_counter()
    assert tracker.log_training(backbone=BACKBONE, variant="sp_ft", out_dir=out, stats=fake_trained(out),
                                tags={}) is None
    assert tracker.champion(BACKBONE) is None and tracker.log_benchmark(
        {"systems": [{"system": "sp_ft", "status": "ok", "n": 1, "distance": 0.1}]}, {"sp_ft": "x"}) is None
    assert time.perf_counter() - t0 < 30
    assert len(log.warnings) == 3 and all("127.0.0.1:9" in w for w in log.warnings)
    assert not RunArtifacts(out).mlflow.exists()


def test_disabled_does_nothing(tmp_path):
    tracker = MLflowResource(enabled=False).tracker(tmp_path, logging.getLogger())
    assert tracker.champion(BACKBONE) is None and not (tmp_path / "mlflow").exists()


def test_best_effort_turns_any_failure_into_one_warning(tmp_path):
    """Every public Tracker call that talks to MLflow goes through the one decorator; a bug inside
    (here: a client that raises) is a warning naming the call, never an exception."""
    from vvae_pipeline.train.tracking import Tracker

    class Broken:
        def __getattr__(self, name):
            raise RuntimeError(f"boom in {name}")

    log = Log()
    tracker = Tracker(tmp_path, log)
    tracker._client = Broken()
    assert tracker.latest_version(BACKBONE, "sp_ft") is None
    assert tracker.set_champion(BACKBONE, "1") is None
    assert tracker.download_adapter("r", tmp_path / "dl") is None
    assert log.warnings == [f"MLflow tracking ({what}) failed at {tracker.uri}, continuing without it: "
                            f"RuntimeError: boom in {call}" for what, call in
                            (("latest version", "search_model_versions"),
                             ("move champion alias", "set_registered_model_alias"),
                             ("download adapter", "download_artifacts"))]


@pytest.mark.slow
def test_a_real_lora_checkpoint_materialization_is_one_tracked_run(tmp_path, models_dir, shared_data, smollm2_path):
    import dagster as dg

    from resources.storage import StorageResource, atomic_write_parquet
    from tests.dagster.test_train_asset import PARTITION, materialize, sft_frame
    from vvae_pipeline.hashing import sha256_file
    from vvae_pipeline.llm.engines import weights_fingerprint

    storage = StorageResource(home=str(tmp_path / "vvae"), models=str(models_dir))
    atomic_write_parquet(storage.table_path("sft_dataset", PARTITION), sft_frame(shared_data))
    tiny = {"max_steps": 2, "batch_size": 2, "max_length": 128, "eval_steps": 1, "save_steps": 2, "logging_steps": 1,
            "lora_r": 4, "lora_alpha": 8, "lora_targets": ["q_proj", "v_proj"]}
    result = materialize(storage, dg.DagsterInstance.ephemeral(), MLflowResource(), **tiny)
    assert result.success
    meta = result.asset_materializations_for_node("lora_checkpoint")[0].metadata
    out = storage.artifact_dir("lora_checkpoint", PARTITION)
    run_files = RunArtifacts(out)
    info = json.loads(run_files.mlflow.read_text())
    assert meta["mlflow_run_id"].value == info["run_id"] and meta["mlflow_model"].value == "vvae-smollm2-135m-ft/1"

    tracker = MLflowResource().tracker(storage.root, logging.getLogger())
    client = tracker.client
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    p, t = run.data.params, run.data.tags
    assert p["lora.r"] == "4" and p["max_steps"] == "2" and p["variant"] == "ft" and p["sft.rows.train"] == "6"
    assert t["dagster_run_id"] == result.run_id and t["dagster_partition"] == PARTITION
    assert t["sft_sha256"] == sha256_file(storage.table_path("sft_dataset", PARTITION))
    assert t["base_model_fingerprint"] == weights_fingerprint(smollm2_path) and t["base_model"] == smollm2_path
    stats = TrainStats.from_json(run_files.metrics.read_text())
    train = client.get_metric_history(info["run_id"], "train_loss")
    assert [(m.step, m.value) for m in train] == [(q.step, pytest.approx(q.loss)) for q in stats.train_loss]
    assert [m.step for m in client.get_metric_history(info["run_id"], "eval_loss")] == [1, 2]
    arts = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {p.name for p in (run_files.adapter, *run_files.files())} <= arts
    assert {a.path for a in client.list_artifacts(info["run_id"], "adapter")} >= {"adapter/adapter_config.json",
                                                                               "adapter/adapter_model.safetensors"}
    assert tracker.latest_version("smollm2-135m", "ft")["run_id"] == info["run_id"]
    print(f"tracking overhead: {meta['mlflow_seconds'].value} s")
