"""Where vvae keeps its data: one root, ``VVAE_HOME`` (default ``./.vvae``: backbones.DEFAULT_HOME).

    $VVAE_HOME/tables/<asset>[/<partition>].parquet     polars/duckdb-readable tables
    $VVAE_HOME/artifacts/<asset>/<partition>/           adapters, reports, plots
    $VVAE_HOME/models/                                  converted model weights
    $VVAE_HOME/landing/                                 raw data lands here (JSON Lines / Parquet)
    $VVAE_HOME/dagster/                                 Dagster instance, unless DAGSTER_HOME is set

Multi-dimensional partition keys ``a|b`` become nested folders ``a/b``. Every write is atomic:
a temp file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import dagster as dg
import polars as pl

from vvae_pipeline.backbones import default_models_dir, home_dir
from vvae_pipeline.storage_io import (  # noqa: F401 (re-exported)
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
)

# How long a step of a run launched outside the main job waits for the home's lock: a demo-size
# main job took 7.6-24.5 min on 2 cores, a reproduce-size one longer.
STEP_LOCK_WAIT_S = 4 * 3600


def vvae_home() -> Path:
    return home_dir().resolve()


def partition_parts(partition_key: str | None) -> list[str]:
    if not partition_key:
        return []
    parts = partition_key.split("|")
    for p in parts:
        if not p or p in {".", ".."} or "/" in p or "\\" in p:
            raise ValueError(f"partition key {partition_key!r} is not usable as a path")
    return parts


class StorageResource(dg.ConfigurableResource):
    """The storage root. ``home`` defaults to $VVAE_HOME or ./.vvae (resolved in definitions.py)."""

    home: str
    landing: str | None = None  # defaults to <home>/landing
    models: str | None = None  # defaults to <home>/models; VVAE_MODELS_DIR overrides
    corpora: str | None = None  # labelled public corpora (DialogBench converters); None: none

    @property
    def root(self) -> Path:
        return Path(self.home)

    @property
    def landing_dir(self) -> Path:
        return Path(self.landing) if self.landing else self.root / "landing"

    @property
    def models_dir(self) -> Path:
        return Path(self.models) if self.models else default_models_dir(self.root)

    @property
    def corpora_dir(self) -> Path | None:
        return Path(self.corpora) if self.corpora else None

    def table_path(self, asset: str, partition_key: str | None = None) -> Path:
        parts = partition_parts(partition_key)
        if not parts:
            return self.root / "tables" / f"{asset}.parquet"
        return self.root / "tables" / asset / Path(*parts[:-1]) / f"{parts[-1]}.parquet"

    def artifact_dir(self, asset: str, partition_key: str | None = None) -> Path:
        return self.root / "artifacts" / asset / Path(*partition_parts(partition_key) or ["_"])

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        """One writer per home: a step of a run holds the home's lock (resources/home_lock.py) while it
        executes, waiting up to STEP_LOCK_WAIT_S for a main job that holds it. The main job's own
        in-process steps run under the lock their process holds; sensors (no run) take nothing."""
        run = context.run
        if run is None:
            yield self
            return
        from resources.home_lock import home_lock

        log = context.log

        def waiting(holder: str) -> None:
            if log is not None:
                log.info(f"waiting for {self.root} (held by {holder}), up to {STEP_LOCK_WAIT_S // 60} min")

        with home_lock(self.root, what=f"dagster run {run.run_id[:8]} of {run.job_name}", wait_s=STEP_LOCK_WAIT_S,
                       on_wait=waiting):
            yield self


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars DataFrames as Parquet under ``<home>/tables``.

    Loading several upstream partitions (e.g. every landed batch) concatenates them; the rows
    carry their own partition columns (``batch_id``, ``variant``) so nothing is ambiguous.
    """

    home: str

    def _storage(self) -> StorageResource:
        return StorageResource(home=self.home)

    def _asset_name(self, key: dg.AssetKey) -> str:
        return "__".join(key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"ParquetIOManager stores polars DataFrames, got {type(obj).__name__}")
        pk = context.partition_key if context.has_asset_partitions else None
        path = self._storage().table_path(self._asset_name(context.asset_key), pk)
        atomic_write_parquet(path, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), "rows": obj.height})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        storage = self._storage()
        name = self._asset_name(context.asset_key)
        if not context.has_asset_partitions:
            return pl.read_parquet(storage.table_path(name))
        keys = list(context.asset_partition_keys)
        paths = {k: storage.table_path(name, k) for k in keys}
        present = [k for k in keys if paths[k].exists()]
        if not present:
            raise FileNotFoundError(f"{name}: none of its {len(keys)} partition(s) is materialized"
                                    + (f", e.g. {keys[0]}" if keys else " (has any batch landed yet?)"))
        if len(present) < len(keys):
            # A fan-in (every batch, every variant of a backbone) reads what exists and says what not.
            missing = sorted(set(keys) - set(present))
            context.log.warning(f"{name}: {len(missing)} of {len(keys)} partitions not materialized, "
                                f"reading the other {len(present)}: {', '.join(map(str, missing[:6]))}")
        frames = [pl.read_parquet(paths[k]) for k in present]
        return pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
