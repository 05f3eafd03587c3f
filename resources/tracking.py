"""MLflow experiment tracking and model registry for the training and benchmark steps.

Every ``lora_checkpoint`` materialization is one MLflow run (params, per-step losses, the adapter
and model card as artifacts, tags back to Dagster), its adapter a new version of the registered
model ``vvae-<backbone>-<variant>``; ``benchmark_report`` logs each variant's benchmark numbers
onto that variant's run, and ``promoted_adapter`` moves the registry alias ``champion``.

Why the plain ``MlflowClient`` and not dagster-mlflow's ``mlflow_tracking`` resource: that
resource is a legacy config-dict resource that keys ONE MLflow run per Dagster run (a
``dagster_run_id`` tag) and sets the process-global fluent state (``mlflow.set_tracking_uri``,
``mlflow.start_run``). Here one Dagster run trains one partition but a backfill or the in-process
executor runs several steps in one process, each needing its own MLflow run, and the report step
writes onto runs it did not start. A client object per step holds no global state.

Tracking is best effort: every call goes through ``Tracker._safe``, which logs a warning and
returns None when the tracking server is down or the URI is wrong; training and the report never
fail because of it (with an unreachable HTTP server set ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and
``MLFLOW_HTTP_REQUEST_TIMEOUT`` low, or each call waits for MLflow's retries).

Default store (``tracking_uri`` None): SQLite at ``<storage root>/mlflow/mlflow.db`` with
artifacts under ``<storage root>/mlflow/artifacts``; browse it with
``mlflow ui --backend-store-uri sqlite:///.vvae/mlflow/mlflow.db``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from resources.storage import atomic_write_json

CHAMPION_ALIAS = "champion"
MLFLOW_JSON = "mlflow.json"  # next to the adapter: the run id the report logs onto


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
            out[v] = json.loads((Path(backbone_dir) / v / MLFLOW_JSON).read_text())["run_id"]
        except (OSError, ValueError, KeyError):
            continue
    return out


def _missing(e) -> bool:
    """An MLflow error that means "not there (yet)", as opposed to the server being unreachable."""
    return getattr(e, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class MLflowResource(dg.ConfigurableResource):
    tracking_uri: str | None = Field(None, description="MLflow tracking URI; None: SQLite under the storage "
                                                       "root (<home>/mlflow/mlflow.db)")
    enabled: bool = Field(True, description="False: log nothing, register nothing (promotion is skipped)")
    experiment: str = Field("vvae", description="MLflow experiment every run goes into")

    def tracker(self, root: Path, log) -> Tracker:
        """A tracker for one step; ``root``: the storage root (where the default store lives)."""
        return Tracker(self, Path(root), log)


class Tracker:
    """One step's MLflow client. Every public method returns None (and warns) when tracking fails."""

    def __init__(self, resource: MLflowResource, root: Path, log):
        self.enabled = resource.enabled
        self.experiment = resource.experiment
        self.log = log
        self.local = resource.tracking_uri is None
        self.uri = resource.tracking_uri or f"sqlite:///{(root / 'mlflow' / 'mlflow.db').resolve()}"
        self.artifact_root = (root / "mlflow" / "artifacts").resolve()
        self._client = None

    # -- plumbing ---------------------------------------------------------------------------
    def _safe(self, what: str, fn: Callable[[], Any]) -> Any:
        if not self.enabled:
            return None
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - tracking must never fail the step
            self.log.warning(f"MLflow tracking ({what}) failed at {self.uri}, continuing without it: "
                             f"{type(e).__name__}: {str(e)[:300]}")
            return None

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
    def log_training(self, *, backbone: str, variant: str, out_dir: Path, stats: dict, params: dict,
                     tags: dict[str, str], extra_params: dict | None = None) -> dict | None:
        """One MLflow run for one trained adapter (``out_dir``: the artifact contract of
        vvae_pipeline.train.run), its adapter registered as a new version; writes ``mlflow.json``
        into ``out_dir`` and returns its content."""
        return self._safe("log training run", lambda: self._log_training(
            backbone, variant, Path(out_dir), stats, params, tags, extra_params or {}))

    def _log_training(self, backbone, variant, out_dir, stats, params, tags, extra_params) -> dict:
        t0 = time.perf_counter()
        run = self.client.create_run(self._experiment_id(), run_name=f"{backbone}|{variant}",
                                     tags={"backbone": backbone, "variant": variant, **tags})
        run_id = run.info.run_id
        try:
            metrics = [("train_loss", p["loss"], p["step"]) for p in stats.get("train_loss", [])]
            metrics += [("eval_loss", p["loss"], p["step"]) for p in stats.get("eval_loss", [])]
            steps = int(stats.get("steps") or 0)
            for k in ("final_eval_loss", "real_tokens", "seconds", "steps"):
                if stats.get(k) is not None:
                    metrics.append((k, stats[k], steps))
            flat = {**flatten(params), "backbone": backbone, "variant": variant, **flatten(extra_params)}
            self._log_batch(run_id, metrics=metrics, params=sorted(flat.items()))
            self.client.log_artifacts(run_id, str(out_dir / "adapter"), "adapter")
            for name in ("README.md", "metrics.json", "loss_curve.png"):
                if (out_dir / name).exists():
                    self.client.log_artifact(run_id, str(out_dir / name))
            name = registered_model_name(backbone, variant)
            self._ensure_registered(name)
            version = self.client.create_model_version(name, source=f"{run.info.artifact_uri}/adapter",
                                                       run_id=run_id, tags={"variant": variant})
            self.client.set_terminated(run_id, "FINISHED")
        except Exception:
            self.client.set_terminated(run_id, "FAILED")
            raise
        info = {"run_id": run_id, "experiment": self.experiment, "tracking_uri": self.uri,
                "registered_model": name, "version": str(version.version),
                "seconds": round(time.perf_counter() - t0, 2)}
        atomic_write_json(out_dir / MLFLOW_JSON, info)
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
    def log_benchmark(self, summary: dict, run_ids: dict[str, str]) -> dict[str, int] | None:
        """Each trained variant's benchmark numbers (rates, intervals, distance, DialogBench, paired
        differences) onto its training run; returns {variant: metrics logged}."""
        return self._safe("log benchmark", lambda: self._log_benchmark(summary, run_ids))

    def _log_benchmark(self, summary: dict, run_ids: dict[str, str]) -> dict[str, int]:
        rows = {s["system"]: s for s in summary.get("systems", []) if s.get("status") == "ok"}
        done = {}
        for variant, run_id in run_ids.items():
            row = rows.get(variant)
            if row is None:
                continue
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
            self._log_batch(run_id, metrics=metrics, tags=[("benchmark_headline", summary.get("headline", ""))])
            done[variant] = len(metrics)
        return done

    # -- registry ---------------------------------------------------------------------------
    def latest_version(self, backbone: str, variant: str) -> dict | None:
        """The newest registered version of ``vvae-<backbone>-<variant>``: {version, run_id, source}."""
        def find():
            vs = self.client.search_model_versions(f"name='{registered_model_name(backbone, variant)}'")
            v = max(vs, key=lambda m: int(m.version), default=None)
            return {"version": str(v.version), "run_id": v.run_id, "source": v.source} if v else None
        return self._safe("latest version", find)

    def champion(self, backbone: str, variant: str = "sp_ft") -> dict | None:
        """The version the alias ``champion`` points at, or None (no champion yet, or tracking off)."""
        def find():
            from mlflow.exceptions import MlflowException

            try:
                v = self.client.get_model_version_by_alias(registered_model_name(backbone, variant), CHAMPION_ALIAS)
            except MlflowException as e:
                if _missing(e):
                    return None  # no such model or no such alias yet
                raise
            return {"version": str(v.version), "run_id": v.run_id, "source": v.source}
        return self._safe("champion lookup", find)

    def download_adapter(self, run_id: str, dest: Path) -> str | None:
        """The run's ``adapter`` artifact folder downloaded under ``dest``; its local path."""
        def fetch():
            dest.mkdir(parents=True, exist_ok=True)
            return self.client.download_artifacts(run_id, "adapter", str(dest))
        return self._safe("download adapter", fetch)

    def champion_for_benchmark(self, backbone: str, sp_ft_run_id: str | None, dest: Path) -> tuple[str | None, dict]:
        """(the champion's adapter folder to score as system ``champion``, or None when there is no
        champion, it is this week's sp_ft run, or it cannot be fetched; what the registry said)."""
        champ = self.champion(backbone)
        registry = {"sp_ft_run_id": sp_ft_run_id, "champion_version": champ and champ["version"],
                    "champion_run_id": champ and champ["run_id"]}
        if not champ or champ["run_id"] == sp_ft_run_id:
            return None, registry
        import shutil

        shutil.rmtree(dest, ignore_errors=True)  # last week's download must not pass for this champion
        path = self.download_adapter(champ["run_id"], Path(dest))
        ok = path is not None and (Path(path) / "adapter_config.json").is_file()
        return (str(path) if ok else None), registry

    def set_champion(self, backbone: str, version: str, variant: str = "sp_ft") -> bool | None:
        def move():
            self.client.set_registered_model_alias(registered_model_name(backbone, variant), CHAMPION_ALIAS, version)
            return True
        return self._safe("move champion alias", move)
