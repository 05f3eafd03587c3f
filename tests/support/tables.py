"""Reading what a main-job run left under its home, for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def read_table(home: Path, name: str) -> pl.DataFrame:
    """Every partition of table ``name`` under ``home/tables``, concatenated."""
    files = sorted((home / "tables").glob(f"{name}.parquet")) + sorted((home / "tables" / name).rglob("*.parquet"))
    assert files, f"{name} was not materialized"
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
