"""MLflow experiment tracking for the training and benchmark steps: the Dagster resource.

The tracking itself (one MLflow run per trained adapter, registry versions, benchmark numbers on
the training run, the ``champion`` alias; best effort: a tracking failure is a warning in the
step's log, it never fails training or the report) is the Dagster-free ``Tracker`` in
vvae_pipeline/train/tracking.py, re-exported here with its helpers. This resource only holds the
deployment's settings and hands each step a ``Tracker``.

Why the plain ``MlflowClient`` and not dagster-mlflow's ``mlflow_tracking`` resource: that
resource is a legacy config-dict resource that keys ONE MLflow run per Dagster run (a
``dagster_run_id`` tag) and sets the process-global fluent state (``mlflow.set_tracking_uri``,
``mlflow.start_run``). Here one Dagster run trains one partition but a backfill or the in-process
executor runs several steps in one process, each needing its own MLflow run, and the report step
writes onto runs it did not start. A client object per step holds no global state.

Default store (``tracking_uri`` None): SQLite at ``<storage root>/mlflow/mlflow.db`` with
artifacts under ``<storage root>/mlflow/artifacts``; browse it with
``mlflow ui --backend-store-uri sqlite:///.vvae/mlflow/mlflow.db``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from vvae_pipeline.train.tracking import (  # noqa: F401 (re-exported: assets and tests import them from here)
    CHAMPION_ALIAS,
    MLFLOW_JSON,
    Tracker,
    best_effort,
    flatten,
    read_run_ids,
    registered_model_name,
    training_params,
)


class MLflowResource(dg.ConfigurableResource):
    tracking_uri: str | None = Field(None, description="MLflow tracking URI; None: SQLite under the storage "
                                                       "root (<home>/mlflow/mlflow.db)")
    enabled: bool = Field(True, description="False: log nothing, register nothing (promotion is skipped)")
    experiment: str = Field("vvae", description="MLflow experiment every run goes into")

    def tracker(self, root: Path, log) -> Tracker:
        """A tracker for one step; ``root``: the storage root (where the default store lives)."""
        return Tracker(Path(root), log, tracking_uri=self.tracking_uri, enabled=self.enabled,
                       experiment=self.experiment)
