"""Atomic writes: one (path, data) order, and a folder swap that never shows a mix."""

import os
from pathlib import Path

import polars as pl
import pytest

from vvae_pipeline.storage_io import (
    atomic_write_dir,
    atomic_write_json,
    atomic_write_parquet,
)


def test_writers_take_path_first(tmp_path: Path):
    atomic_write_parquet(tmp_path / "t.parquet", pl.DataFrame({"a": [1, 2]}))
    atomic_write_json(tmp_path / "j.json", {"a": 1})
    assert pl.read_parquet(tmp_path / "t.parquet")["a"].to_list() == [1, 2]
    assert (tmp_path / "j.json").read_text().strip().startswith("{")


def _fill(files: dict[str, str]):
    def fill(tmp: Path) -> None:
        for name, text in files.items():
            (tmp / name).write_text(text)
    return fill


def test_folder_swap_replaces_whole_folder_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "adapter"
    atomic_write_dir(target, _fill({"a.txt": "old", "only_old.txt": "x"}))
    atomic_write_dir(target, _fill({"a.txt": "new"}))
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert (target / "a.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["adapter"]  # no .new- / .old- folder left behind


def test_failed_fill_keeps_the_old_folder(tmp_path: Path):
    target = tmp_path / "adapter"
    atomic_write_dir(target, _fill({"a.txt": "old"}))

    def broken(tmp: Path) -> None:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_dir(target, broken)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["adapter"]
