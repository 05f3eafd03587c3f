"""MLflow experiment tracking and model registry for the training and benchmark steps, without Dagster.

Every trained adapter is one MLflow run (params, per-step losses, the adapter and model card as
artifacts, tags back to the orchestrator), its adapter a new version of the registered model
``vvae-<backbone>-<variant>``; the benchmark logs each variant's numbers onto that variant's run,
and the promotion moves the registry alias ``champion``. resources/tracking.py is the Dagster
resource that configures a ``Tracker`` per step (and explains why a plain ``MlflowClient``).

Tracking is best effort: every public call that talks to MLflow is wrapped in ``best_effort``,
which logs a warning and returns None when the tracking server is down or the URI is wrong;
training and the report never fail because of it (with an unreachable HTTP server set
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and ``MLFLOW_HTTP_REQUEST_TIMEOUT`` low, or each call waits for
MLflow's retries).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from vvae_pipeline.storage_io import atomic_write_json
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.stats import TrainStats

CHAMPION_ALIAS = "champion"
MLFLOW_JSON = RunArtifacts(Path(".")).mlflow.name  # next to the adapter: the run id the report logs onto

F = TypeVar("F", bound=Callable[..., Any])


def registered_model_name(backbone: str, variant: str) -> str:
    """``vvae-<backbone>-<variant>`` with anything MLflow's registry names dislike (``|``, ``/``) as ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"vvae-{backbone}-{variant}")


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """{"lora": {"r": 8}} -> {"lora.r": 8}; lists and tuples as JSON."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(list(v)) if isinstance(v, list | tuple) else v
    return out


def read_run_ids(backbone_dir: Path, variants) -> dict[str, str]:
    """{variant: MLflow run id} from ``<artifacts>/lora_checkpoint/<backbone>/<variant>/mlflow.json``."""
    out = {}
    for v in variants:
        try:
            out[v] = json.loads(RunArtifacts(Path(backbone_dir) / v).mlflow.read_text())["run_id"]
        except (OSError, ValueError, KeyError):
            continue
    return out


def _missing(e) -> bool:
    """An MLflow error that means "not there (yet)", as opposed to the server being unreachable."""
    return getattr(e, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def best_effort(what: str) -> Callable[[F], F]:
    """A ``Tracker`` method that returns None when tracking is off, and warns in the step's log and
    returns None when MLflow fails: tracking never fails training or the report."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def call(self: Tracker, *args, **kwargs):
            if not self.enabled:
                return None
            try:
                return fn(self, *args, **kwargs)
            except Exception as e:  # noqa: BLE001 - tracking must never fail the step
                self.log.warning(f"MLflow tracking ({what}) failed at {self.uri}, continuing without it: "
                                 f"{type(e).__name__}: {str(e)[:300]}")
                return None
        return call  # type: ignore[return-value]
    return wrap


def training_params(stats: TrainStats) -> dict:
    """The params an MLflow training run records: the trainer's, LoRA's and the resolved device choice."""
    return {**asdict(stats.params), "lora": asdict(stats.lora), "resolved": asdict(stats.choice)}


class Tracker:
    """One step's MLflow client. Every public method that talks to MLflow is ``best_effort``.

    ``tracking_uri`` None: SQLite at ``<root>/mlflow/mlflow.db``, artifacts under ``<root>/mlflow/artifacts``.
    ``log``: anything with ``warning`` (a Dagster step's log, a logging.Logger).
    """

    def __init__(self, root: Path, log, *, tracking_uri: str | None = None, enabled: bool = True,
                 experiment: str = "vvae"):
        self.enabled = enabled
        self.experiment = experiment
        self.log = log
        self.local = tracking_uri is None
        root = Path(root)
        self.uri = tracking_uri or f"sqlite:///{(root / 'mlflow' / 'mlflow.db').resolve()}"
        self.artifact_root = (root / "mlflow" / "artifacts").resolve()
        self._client = None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            if self.local:
                self.artifact_root.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def _experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(self.experiment)
        if exp is not None:
            return exp.experiment_id
        where = (self.artifact_root / self.experiment).as_uri() if self.local else None
        return self.client.create_experiment(self.experiment, artifact_location=where)

    def _log_batch(self, run_id: str, metrics=(), params=(), tags=()) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, int(s)) for k, v, s in metrics]
        params = [Param(k, str(v)[:6000]) for k, v in params]
        tags = [RunTag(k, str(v)[:5000]) for k, v in tags]
        for i in range(0, max(len(metrics), 1), 1000):  # MLflow's per-request limits: 1000 metrics,
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])  # 100 params, 100 tags
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(tags), 100):
            self.client.log_batch(run_id, tags=tags[i:i + 100])

    # -- training ---------------------------------------------------------------------------
    @best_effort("log training run")
    def log_training(self, *, backbone: str, variant: str, out_dir: Path, stats: TrainStats,
                     tags: dict[str, str], extra_params: dict | None = None) -> dict | None:
        """One MLflow run for one trained adapter (``out_dir``: a ``RunArtifacts`` folder), its params
        ``training_params(stats)`` plus ``extra_params``, its adapter registered as a new version;
        writes ``RunArtifacts.mlflow`` and returns its content."""
        t0 = time.perf_counter()
        run_files = RunArtifacts(out_dir)
        run = self.client.create_run(self._experiment_id(), run_name=f"{backbone}|{variant}",
                                     tags={"backbone": backbone, "variant": variant, **tags})
        run_id = run.info.run_id
        try:
            metrics = [("train_loss", p.loss, p.step) for p in stats.train_loss]
            metrics += [("eval_loss", p.loss, p.step) for p in stats.eval_loss]
            metrics += [(k, v, stats.steps) for k, v in (("final_eval_loss", stats.final_eval_loss),
                                                         ("real_tokens", stats.real_tokens),
                                                         ("seconds", stats.seconds), ("steps", stats.steps))
                        if v is not None]
            flat = {**flatten(training_params(stats)), "backbone": backbone, "variant": variant,
                    **flatten(extra_params or {})}
            self._log_batch(run_id, metrics=metrics, params=sorted(flat.items()))
            self.client.log_artifacts(run_id, str(run_files.adapter), run_files.adapter.name)
            for path in run_files.files():
                if path.exists():
                    self.client.log_artifact(run_id, str(path))
            name = registered_model_name(backbone, variant)
            self._ensure_registered(name)
            version = self.client.create_model_version(name, source=f"{run.info.artifact_uri}/{run_files.adapter.name}",
                                                       run_id=run_id, tags={"variant": variant})
            self.client.set_terminated(run_id, "FINISHED")
        except Exception:
            self.client.set_terminated(run_id, "FAILED")
            raise
        info = {"run_id": run_id, "experiment": self.experiment, "tracking_uri": self.uri,
                "registered_model": name, "version": str(version.version),
                "seconds": round(time.perf_counter() - t0, 2)}
        atomic_write_json(run_files.mlflow, info)
        return info

    def _ensure_registered(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as e:
            if not _missing(e):
                raise
            self.client.create_registered_model(name, description="vvae LoRA adapter (PEFT folder)")

    # -- benchmark --------------------------------------------------------------------------
    @best_effort("log benchmark")
    def log_benchmark(self, summary: dict, run_ids: dict[str, str]) -> dict[str, int] | None:
        """Each trained variant's benchmark numbers (rates, intervals, distance, DialogBench, paired
        differences) onto its training run; returns {variant: metrics logged}."""
        rows = {s["system"]: s for s in summary.get("systems", []) if s.get("status") == "ok"}
        done = {}
        for variant, run_id in run_ids.items():
            row = rows.get(variant)
            if row is None:
                continue
            metrics = _benchmark_metrics(row, variant, summary)
            self._log_batch(run_id, metrics=metrics, tags=[("benchmark_headline", summary.get("headline", ""))])
            done[variant] = len(metrics)
        return done

    # -- registry ---------------------------------------------------------------------------
    @best_effort("latest version")
    def latest_version(self, backbone: str, variant: str) -> dict | None:
        """The newest registered version of ``vvae-<backbone>-<variant>``: {version, run_id, source}."""
        vs = self.client.search_model_versions(f"name='{registered_model_name(backbone, variant)}'")
        v = max(vs, key=lambda m: int(m.version), default=None)
        return {"version": str(v.version), "run_id": v.run_id, "source": v.source} if v else None

    @best_effort("champion lookup")
    def champion(self, backbone: str, variant: str = "sp_ft") -> dict | None:
        """The version the alias ``champion`` points at, or None (no champion yet, or tracking off)."""
        from mlflow.exceptions import MlflowException

        try:
            v = self.client.get_model_version_by_alias(registered_model_name(backbone, variant), CHAMPION_ALIAS)
        except MlflowException as e:
            if _missing(e):
                return None  # no such model or no such alias yet
            raise
        return {"version": str(v.version), "run_id": v.run_id, "source": v.source}

    @best_effort("download adapter")
    def download_adapter(self, run_id: str, dest: Path) -> str | None:
        """The run's adapter artifact folder downloaded under ``dest``; its local path."""
        dest.mkdir(parents=True, exist_ok=True)
        return self.client.download_artifacts(run_id, RunArtifacts(dest).adapter.name, str(dest))

    def champion_for_benchmark(self, backbone: str, sp_ft_run_id: str | None, dest: Path) -> tuple[str | None, dict]:
        """(the champion's adapter folder to score as system ``champion``, or None when there is no
        champion, it is this week's sp_ft run, or it cannot be fetched; what the registry said).
        Not wrapped itself: every MLflow call in it is."""
        champ = self.champion(backbone)
        registry = {"sp_ft_run_id": sp_ft_run_id, "champion_version": champ and champ["version"],
                    "champion_run_id": champ and champ["run_id"]}
        if not champ or champ["run_id"] == sp_ft_run_id:
            return None, registry
        import shutil

        shutil.rmtree(dest, ignore_errors=True)  # last week's download must not pass for this champion
        path = self.download_adapter(champ["run_id"], Path(dest))
        ok = path is not None and RunArtifacts(Path(dest)).complete  # path is dest/adapter
        return (str(path) if ok else None), registry

    @best_effort("move champion alias")
    def set_champion(self, backbone: str, version: str, variant: str = "sp_ft") -> bool | None:
        self.client.set_registered_model_alias(registered_model_name(backbone, variant), CHAMPION_ALIAS, version)
        return True


def _benchmark_metrics(row: dict, variant: str, summary: dict) -> list[tuple[str, float, int]]:
    """(key, value, step) of one variant's benchmark row, its DialogBench tasks and paired differences."""
    metrics = [(f"bench/{k}", v, 0) for k, v in row.items()
               if isinstance(v, int | float) and not isinstance(v, bool) and k != "n"]
    metrics.append(("bench/test_prompts", row["n"], 0))
    for task, t in (summary.get("dialogbench") or {}).get(variant, {}).items():
        metrics += [(f"bench/dialogbench/{task}/{k}", t[k], 0) for k in ("accuracy", "chance", "consistent")
                    if k in t]
    for c in summary.get("comparisons", []):
        if c["a"] == variant:
            metrics += [(f"bench/vs_{c['b']}/distance_difference{s}", v, 0)
                        for s, v in (("", c["difference"]), ("_lo", c["ci"][0]), ("_hi", c["ci"][1]))]
    return metrics
