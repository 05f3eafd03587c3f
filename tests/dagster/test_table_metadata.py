"""Every table asset reports Dagster's table metadata (assets/tables.py): ``dagster/column_schema``
equal to the Parquet file it wrote, ``dagster/row_count`` (the whole table: every partition's file)
and, for a partition, ``dagster/partition_row_count``.

Two landed demo batches go through every table asset of the DAG with the real storage resource
and IO manager on a temp home; the encoder is the deterministic fake engine (no model).
"""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from assets.encode import agent_profiles, declared_profiles, persona_extractions
from assets.ingest import ingest_batch, scrubbed_sessions
from assets.partitions import BATCH_PARTITIONS_NAME, backbone_variant_key
from assets.priors import persona_priors
from assets.report import test_personas
from assets.sft import sft_dataset
from assets.tables import COLUMN_SCHEMA, PARTITION_ROW_COUNT, ROW_COUNT, table_schema
from resources.llm import EncoderResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource
from tests.support.fake_engine import FakeEngine
from vvae_pipeline import schemas
from vvae_pipeline.ingest.demo import generate_demo
from vvae_pipeline.ingest.landing import batch_key

BACKBONE = "smollm2-135m"
ASSETS = [ingest_batch, scrubbed_sessions, persona_extractions, agent_profiles, declared_profiles, persona_priors,
          sft_dataset, test_personas]
# Every asset the ParquetIOManager stores (tests/ui/test_dagster_ui.py lists the whole graph).
TABLES = {"raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions", "persona_extractions", "agent_profiles",
          "declared_profiles", "persona_priors", "persona_prior_stats", "sft_dataset", "test_personas"}
# Assets that write files of their own (adapters, the report, the registry alias), no table.
NOT_TABLES = {"lora_checkpoint", "benchmark_report", "promoted_adapter", "merged_model"}
PARTITIONED = {"raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions", "persona_extractions", "sft_dataset",
               "test_personas"}


class FakeEncoder(EncoderResource):
    def build_engine(self, models_dir=None):
        return FakeEngine()


def test_table_schema_follows_the_pandera_model():
    cols = {c.name: c for c in table_schema(schemas.AgentProfile).columns}
    assert list(cols) == list(schemas.AgentProfile.to_schema().columns)
    assert cols["count"].type == "Int64" and cols["share"].type == "Float64"
    assert cols["language"].constraints.other == ["isin(('en', 'zh'))"] and not cols["language"].constraints.nullable
    assert table_schema(schemas.AgentProfile).constraints.other == ["unique (agent_id, dimension)"]
    raw = {c.name: c for c in table_schema(schemas.RawSession).columns}
    assert raw["session_id"].constraints.unique and raw["agent_name"].constraints.nullable
    assert raw["turns"].type == str(pl.List(schemas.TURN))


def test_every_asset_of_the_code_location_is_a_table_with_its_columns_or_no_table(tmp_path):
    from assets.definitions import build_definitions

    specs = {s.key.to_user_string(): s for s in build_definitions("local", str(tmp_path)).resolve_all_asset_specs()}
    assert set(specs) == TABLES | NOT_TABLES  # a new asset must be sorted into one of them (and tested below)
    for name in TABLES:  # the Columns tab before the first materialization
        assert isinstance(specs[name].metadata.get(COLUMN_SCHEMA), dg.TableSchemaMetadataValue), name


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    storage = StorageResource(home=str(home))
    (home / "landing").mkdir()
    sessions, _ = generate_demo(n_agents=8, sessions_per_agent=3, seed=7, pii_rate=0.5)
    keys = []
    for i, part in enumerate((sessions[:12], sessions[12:])):
        path = home / "landing" / f"demo-{i}.jsonl"
        bad = '{"session_id": "cut"\n' if i == 0 else ""  # one quarantined line in the first batch
        path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in part) + bad, encoding="utf-8")
        keys.append(batch_key(path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, keys)
    resources = {"storage": storage, "io_manager": ParquetIOManager(home=str(home)), "encoder": FakeEncoder(),
                 "pseudonyms": PseudonymKeyResource(key="test-key")}

    def run(selection, partition_key=None, run_config=None):
        result = dg.materialize(ASSETS, selection=selection, partition_key=partition_key, instance=instance,
                                resources=resources, run_config=run_config)
        assert result.success
        return result

    for key in keys:
        run([ingest_batch, scrubbed_sessions, persona_extractions], key)
    run([agent_profiles, declared_profiles, persona_priors])
    run([sft_dataset], backbone_variant_key(BACKBONE, "sp_ft"), dg.RunConfig({"sft_dataset": {"config": {
        "train_fraction": 0.5, "validation_fraction": 0.25, "test_fraction": 0.25}}}))
    run([test_personas], BACKBONE)
    latest = {}
    for table in TABLES:
        ev = instance.get_latest_materialization_event(dg.AssetKey(table))
        latest[table] = ev.asset_materialization if ev else None
    return storage, keys, latest


def test_every_table_asset_reports_row_counts_and_its_columns(materialized):
    storage, keys, latest = materialized
    assert {t for t, m in latest.items() if m is not None} == TABLES
    for table, mat in latest.items():
        meta = mat.metadata
        assert COLUMN_SCHEMA in meta and ROW_COUNT in meta, f"{table}: {sorted(meta)}"
        one, folder = storage.root / "tables" / f"{table}.parquet", storage.root / "tables" / table
        files = [one] if table not in PARTITIONED else sorted(folder.rglob("*.parquet"))
        assert files, table
        written = pl.read_parquet(mat.metadata["path"].value)
        # The Columns tab: the model's columns are exactly the written file's, with its dtypes.
        schema = meta[COLUMN_SCHEMA].value
        assert [(c.name, c.type) for c in schema.columns] == [(n, str(t)) for n, t in written.schema.items()], table
        assert meta[ROW_COUNT].value == sum(pl.scan_parquet(f).select(pl.len()).collect().item() for f in files), table
        if table in PARTITIONED:
            assert meta[PARTITION_ROW_COUNT].value == written.height, table
        else:
            assert PARTITION_ROW_COUNT not in meta and meta[ROW_COUNT].value == written.height, table
        assert isinstance(meta[ROW_COUNT], dg.IntMetadataValue)
    # Two batches: the table's count spans both files, the partition's only the second.
    raw = latest["raw_sessions"].metadata
    first = pl.read_parquet(storage.table_path("raw_sessions", keys[0])).height
    assert raw[ROW_COUNT].value == first + raw[PARTITION_ROW_COUNT].value and first > 0
    assert latest["raw_sessions_quarantine"].metadata[ROW_COUNT].value == 1
