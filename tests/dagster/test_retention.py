"""raw_retention_job: off by default, deletes only raw partitions older than the setting."""

import os
import time

from assets.retention import expired_raw_files, raw_retention_job
from resources.storage import StorageResource


def _tables(tmp_path):
    storage = StorageResource(home=str(tmp_path))
    old_time = time.time() - 40 * 86_400
    paths = {}
    for asset in ("raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions"):
        for key, age in (("old-000000000001", old_time), ("new-000000000002", None)):
            p = storage.table_path(asset, key)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"PAR1")
            if age:
                os.utime(p, (age, age))
            paths[(asset, key)] = p
    return storage, paths


def _run(storage, config=None):
    return raw_retention_job.execute_in_process(
        resources={"storage": storage},
        run_config={"ops": {"delete_expired_raw_partitions": {"config": config or {}}}})


def test_retention_is_off_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("VVAE_RAW_RETENTION_DAYS", raising=False)
    storage, paths = _tables(tmp_path)
    result = _run(storage)
    assert result.success and all(p.exists() for p in paths.values())


def test_retention_deletes_only_old_raw_partitions(tmp_path):
    storage, paths = _tables(tmp_path)
    assert len(expired_raw_files(storage.root / "tables", 30)) == 2
    dry = _run(storage, {"raw_retention_days": 30, "dry_run": True})
    assert dry.success and all(p.exists() for p in paths.values())
    result = _run(storage, {"raw_retention_days": 30})
    assert result.success
    assert result.output_for_node("delete_expired_raw_partitions") == {"raw_sessions": 1, "raw_sessions_quarantine": 1}
    gone = {k for k, p in paths.items() if not p.exists()}
    assert gone == {("raw_sessions", "old-000000000001"), ("raw_sessions_quarantine", "old-000000000001")}
    # Counts only in the run's metadata and logs: no batch key, no file name.
    text = "\n".join(str(e.message) + str(getattr(e.event_specific_data, "metadata", "")) for e in result.all_events)
    assert "old-000000000001" not in text
