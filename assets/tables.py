"""Dagster's own table metadata for every table asset, so the UI charts row counts over time and
fills the Columns tab.

- ``table_schema(model)``: a ``dg.TableSchema`` from a pandera model of vvae_pipeline.schemas: each
  column's name, polars dtype, nullability, uniqueness and checks (``isin(('en', 'zh'))``), and the
  model's multi-column uniqueness as a table constraint. The models are strict (no other column
  passes the blocking ``schema`` check), so this is the table's schema.
- ``schema_metadata(model)``: the definition metadata (``dagster/column_schema``): the Columns tab
  before the first materialization.
- ``table_metadata(model, df, ...)``: what a materialization reports: ``dagster/column_schema``,
  ``dagster/row_count`` (rows of the whole table) and, for a partition,
  ``dagster/partition_row_count`` (rows of this partition). A partitioned table is one Parquet file
  per partition (resources/storage.py); its row count is this partition's rows plus the rows the
  other partitions' files hold now (read from the Parquet footers, not the data).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from resources.storage import StorageResource

COLUMN_SCHEMA, ROW_COUNT, PARTITION_ROW_COUNT = (
    "dagster/column_schema",
    "dagster/row_count",
    "dagster/partition_row_count",
)


def table_schema(model) -> dg.TableSchema:
    """The columns of a pandera DataFrameModel (in the model's order) as a Dagster TableSchema."""
    schema = model.to_schema()
    unique = list(schema.unique or [])
    columns = [dg.TableColumn(
        name=name, type=str(col.dtype), description=col.description,
        constraints=dg.TableColumnConstraints(nullable=col.nullable, unique=col.unique or unique == [name],
                                              other=[str(c.error) for c in col.checks]))
        for name, col in schema.columns.items()]
    others = [f"unique ({', '.join(unique)})"] if len(unique) > 1 else []
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(other=others) if others else None)


def schema_metadata(model) -> dict[str, dg.MetadataValue]:
    return {COLUMN_SCHEMA: dg.MetadataValue.table_schema(table_schema(model))}


def _rows_in(path: Path) -> int:
    return pq.read_metadata(path).num_rows


def table_metadata(model, df: pl.DataFrame, storage: StorageResource | None = None, asset: str | None = None,
                   partition_key: str | None = None) -> dict[str, dg.MetadataValue]:
    """Column schema and row counts of ``df`` as the materialization of table ``asset`` writes it
    (``partition_key``: one partition of it, counted with the other partitions on ``storage``)."""
    meta = schema_metadata(model)
    if partition_key is None:
        meta[ROW_COUNT] = dg.MetadataValue.int(df.height)
        return meta
    if storage is None or asset is None:
        raise ValueError("a partition's table metadata needs the storage and the asset name")
    this = storage.table_path(asset, partition_key)
    root = storage.root / "tables" / asset
    # Hidden files are atomic_write_parquet's temporaries; this partition's old file is replaced.
    others = [p for p in root.rglob("*.parquet") if not p.name.startswith(".") and p != this] if root.is_dir() else []
    meta[ROW_COUNT] = dg.MetadataValue.int(df.height + sum(_rows_in(p) for p in others))
    meta[PARTITION_ROW_COUNT] = dg.MetadataValue.int(df.height)
    return meta
