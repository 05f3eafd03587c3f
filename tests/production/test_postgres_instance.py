"""The production instance (deploy/dagster.yaml, verbatim) on a real PostgreSQL: materialize the
priors stage and its checks, then read the runs, materializations and check results back through
a second instance, and straight from the database.

PostgreSQL comes from `eval "$(scripts/ci_postgres.sh)"` (.ci/run does it); without the
DAGSTER_PG_* variables or a reachable server the tests are skipped and say why. Each test session
gets its own database, dropped at the end, so runs never leak between sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from vvae_pipeline.scrub.sessions import SCRUBBED_COLUMNS

REPO = Path(__file__).resolve().parents[2]
PG_VARS = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")
BATCHES = ("batch-0001", "batch-0002")


def _connect(dbname: str):
    import psycopg2

    return psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=int(os.environ["DAGSTER_PG_PORT"]),
                            user=os.environ["DAGSTER_PG_USERNAME"], password=os.environ["DAGSTER_PG_PASSWORD"],
                            dbname=dbname, connect_timeout=5)


@pytest.fixture(scope="module")
def pg_database():
    """A fresh database on the CI PostgreSQL; DAGSTER_PG_DB points at it while the module runs."""
    missing = [v for v in PG_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"no PostgreSQL configured ({', '.join(missing)} unset); "
                    'run: eval "$(scripts/ci_postgres.sh)"')
    try:
        admin = _connect(os.environ["DAGSTER_PG_DB"])
    except Exception as exc:  # psycopg2.OperationalError; the message carries no password
        pytest.skip(f"PostgreSQL at {os.environ['DAGSTER_PG_HOST']}:{os.environ['DAGSTER_PG_PORT']} "
                    f"is not reachable: {str(exc).strip()[:200]}")
    admin.autocommit = True
    name = f"vvae_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    saved = os.environ["DAGSTER_PG_DB"]
    os.environ["DAGSTER_PG_DB"] = name
    try:
        yield name
    finally:
        os.environ["DAGSTER_PG_DB"] = saved
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _instance(dagster_home: Path) -> dg.DagsterInstance:
    from dagster._core.instance import DagsterInstance

    return DagsterInstance.from_config(str(dagster_home))


@pytest.fixture(scope="module")
def dagster_home(pg_database, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dagster-pg")
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


def _extractions(batch: str, n: int) -> pl.DataFrame:
    """A few encoder outputs in the persona_extractions contract (schemas.PersonaExtraction)."""
    tones = ["cheerful", "calm", None]
    rows = []
    for i in range(n):
        rows.append({
            "batch_id": batch, "source_file": f"{batch}.jsonl", "source_line": i + 1,
            "extraction_id": f"{batch}-{i}", "session_id": f"{batch}-s{i}", "agent_id": f"a{i % 2}",
            "user_id": f"u{i}", "language": "en", "turn_index": 1,
            "context": [{"role": "user", "text": "hi, how was the weekend?"}],
            "reply": "great, went hiking again haha", "x_source": "original_reply",
            "catchphrase": "haha" if i % 2 else None, "emoji": None, "tone": tones[i % 3],
            "nickname": None, "relationship": "friend", "vibe": "warm" if i % 2 else "playful",
            "topic": "weekend", "personality": "outgoing", "hobby": "hiking" if i < 2 else None,
            "status": "ok", "null_reasons": json.dumps({"emoji": "not shown"}), "raw_output": "{}",
            "engine": "fake", "model": "none", "prompt_version": "test",
        })
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def priors_run(dagster_home, tmp_path_factory):
    try:
        from assets.definitions import build_definitions
    except ImportError as exc:
        pytest.fail(f"assets.definitions does not import: {exc}")
    from resources.storage import StorageResource, atomic_write_parquet

    vvae_home = tmp_path_factory.mktemp("vvae-pg-home")
    storage = StorageResource(home=str(vvae_home))
    for k, batch in enumerate(BATCHES):
        atomic_write_parquet(storage.table_path("persona_extractions", batch), _extractions(batch, 3 + k))
        atomic_write_parquet(storage.table_path("scrubbed_sessions", batch), pl.DataFrame(schema=SCRUBBED_COLUMNS))
    instance = _instance(dagster_home)
    instance.add_dynamic_partitions("landing_batch", list(BATCHES))
    job = build_definitions(profile="local", home=vvae_home).resolve_job_def("priors_job")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    yield result
    instance.dispose()


def test_priors_and_checks_materialize_on_postgres(priors_run):
    assert priors_run.success
    evaluations = priors_run.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} >= {"schema", "probabilities_sum_to_one"}
    assert all(e.passed for e in evaluations), [(e.check_name, e.metadata) for e in evaluations]


def test_materializations_read_back_from_a_fresh_instance(priors_run, dagster_home):
    instance = _instance(dagster_home)  # a new process-like view of the same database
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_run_by_id(priors_run.run_id).status == dg.DagsterRunStatus.SUCCESS
        for asset in ("persona_priors", "persona_prior_stats"):
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event is not None and event.run_id == priors_run.run_id, asset
            rows = event.asset_materialization.metadata["rows"].value
            path = event.asset_materialization.metadata["path"].value
            assert rows == pl.read_parquet(path).height > 0, asset
        check = dg.AssetCheckKey(dg.AssetKey("persona_priors"), "probabilities_sum_to_one")
        history = instance.event_log_storage.get_asset_check_execution_history(check, limit=1)
        assert history and history[0].run_id == priors_run.run_id
        assert history[0].status.value == "SUCCEEDED"
        assert set(instance.get_dynamic_partitions("landing_batch")) == set(BATCHES)
    finally:
        instance.dispose()


def test_events_are_rows_in_postgres(priors_run, pg_database):
    with _connect(pg_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
                    (priors_run.run_id, "ASSET_MATERIALIZATION"))
        assert cur.fetchone()[0] == 4  # persona_priors + persona_prior_stats + agent_profiles + declared_profiles
    conn.close()


def test_gpu_pool_limit_lives_in_postgres(dagster_home):
    # What `dagster instance concurrency set gpu 2` does; every webserver/daemon then sees it.
    instance = _instance(dagster_home)
    try:
        instance.event_log_storage.set_concurrency_slots("gpu", 2)
    finally:
        instance.dispose()
    other = _instance(dagster_home)
    try:
        assert other.event_log_storage.get_concurrency_info("gpu").slot_count == 2
        assert other.get_concurrency_config().pool_config.default_pool_limit == 1
    finally:
        other.dispose()


def test_k8s_instance_file_runs_the_k8s_profile_on_postgres(pg_database, tmp_path, monkeypatch):
    """deploy/k8s/dagster.yaml verbatim on the same PostgreSQL, with the k8s profile's definitions:
    the run and its events land in the database. The K8sRunLauncher itself only loads inside a
    pod (in-cluster config), which is where this stops being testable without a cluster."""
    from assets.definitions import build_definitions
    from resources.storage import StorageResource, atomic_write_parquet

    monkeypatch.setenv("VVAE_IMAGE", "vvae:test")
    monkeypatch.setenv("VVAE_K8S_NAMESPACE", "vvae")
    home = tmp_path / "dagster-k8s"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "k8s" / "dagster.yaml", home / "dagster.yaml")
    storage = StorageResource(home=str(tmp_path / "vvae"))
    for k, batch in enumerate(BATCHES):
        atomic_write_parquet(storage.table_path("persona_extractions", batch), _extractions(batch, 3 + k))
        atomic_write_parquet(storage.table_path("scrubbed_sessions", batch), pl.DataFrame(schema=SCRUBBED_COLUMNS))
    instance = _instance(home)
    try:
        for batch in BATCHES:
            if not instance.has_dynamic_partition("landing_batch", batch):
                instance.add_dynamic_partitions("landing_batch", [batch])
        job = build_definitions(profile="k8s", home=tmp_path / "vvae").resolve_job_def("priors_job")
        assert job.executor_def.name == "vvae_k8s"
        result = job.execute_in_process(instance=instance, raise_on_error=False)  # in-process: no pods
        assert result.success
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        with pytest.raises(Exception, match="(?i)service host/port is not set|in-?cluster|kubernetes"):
            instance.run_launcher  # noqa: B018 (loading it is the point)
    finally:
        instance.dispose()
