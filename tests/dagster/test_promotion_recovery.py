"""Promotion after a crash: serving (champion.json) and the registry alias agree after the next run.

The real MLflow registry (SQLite under the storage root) and the real benchmark summary code, as in
test_promotion.py; the crash is injected between the alias move and champion.json."""

import json
import logging

import dagster as dg
import pytest

from assets import promotion
from resources.storage import StorageResource
from resources.tracking import MLflowResource, Tracker
from tests.dagster.test_promotion import BACKBONE, _report_stub, benchmark, train
from vvae_pipeline.llm.serving import champion_json_path, read_champion

pytestmark = pytest.mark.slow  # the MLflow SQLite registry: ~10 s a test on 2 shared cores


def _materialize(storage, mlflow):
    return dg.materialize([_report_stub, promotion.promoted_adapter], selection=[promotion.promoted_adapter],
                          partition_key=BACKBONE, resources={"storage": storage, "mlflow": mlflow},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _served(storage) -> str:
    return json.loads(champion_json_path(BACKBONE, storage.root).read_text())["version"]


@pytest.mark.parametrize("crash_at", ["write_champion_json", "set_champion"])
def test_crash_inside_promotion_is_finished_by_the_next_run(tmp_path, monkeypatch, crash_at):
    storage, mlflow = StorageResource(home=str(tmp_path)), MLflowResource()
    tracker = mlflow.tracker(storage.root, logging.getLogger())
    train(storage, tracker, "flat")
    benchmark(storage, tracker)
    assert _materialize(storage, mlflow).success
    assert tracker.champion(BACKBONE)["version"] == _served(storage) == "1"

    # Week 2: a clearly better challenger; the process dies inside the promotion.
    train(storage, tracker, "human")
    benchmark(storage, tracker)

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    if crash_at == "write_champion_json":  # after the alias moved, before serving's file
        monkeypatch.setattr(promotion, "write_champion_json", crash)
    else:  # after the intent, before the alias moved (patched past tracking's best-effort wrapper)
        monkeypatch.setattr(Tracker, "set_champion", crash)
    assert not _materialize(storage, mlflow).success
    monkeypatch.undo()
    out = storage.artifact_dir("promoted_adapter", BACKBONE)
    assert (out / promotion.INTENT).exists()
    assert _served(storage) == "1"  # serving still on the old champion: the file was never half-written
    if crash_at == "write_champion_json":
        assert tracker.champion(BACKBONE)["version"] == "2"  # the split the intent exists for

    # The next run: the interrupted promotion is finished before anything is decided.
    again = _materialize(storage, mlflow)
    assert again.success
    meta = again.asset_materializations_for_node("promoted_adapter")[0].metadata
    assert "finished an interrupted promotion" in meta["promotion_repair"].value
    assert tracker.champion(BACKBONE)["version"] == _served(storage) == "2"
    assert (read_champion(champion_json_path(BACKBONE, storage.root)) / "policy.txt").read_text() == "human"
    assert not (out / promotion.INTENT).exists()


def test_alias_moved_by_hand_is_followed_by_champion_json(tmp_path):
    storage, mlflow = StorageResource(home=str(tmp_path)), MLflowResource()
    tracker = mlflow.tracker(storage.root, logging.getLogger())
    train(storage, tracker, "human")
    benchmark(storage, tracker)
    assert _materialize(storage, mlflow).success
    train(storage, tracker, "flat")
    tracker.set_champion(BACKBONE, "2")  # an operator (or older code that crashed) moved only the alias
    benchmark(storage, tracker)
    res = _materialize(storage, mlflow)
    assert res.success
    meta = res.asset_materializations_for_node("promoted_adapter")[0].metadata
    assert "champion.json now follows the alias" in meta["promotion_repair"].value
    assert _served(storage) == tracker.champion(BACKBONE)["version"] == "2"
    assert (read_champion(champion_json_path(BACKBONE, storage.root)) / "policy.txt").read_text() == "flat"
