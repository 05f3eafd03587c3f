"""The artifacts of a LoRA run: ``RunArtifacts`` names every file a run leaves under its folder
(adapter, metrics.json, loss curve, model card, training log, checkpoints, the trainer's job file,
the MLflow run id); writers and readers here and in the Dagster layer go through it, never through a
file name spelled by hand.

Every file is written to a temp name and renamed into place, and the adapter folder is swapped in
whole, so a reader (the benchmark stage) never sees half an artifact.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vvae_pipeline.storage_io import atomic_write_bytes, atomic_write_dir
from vvae_pipeline.train.stats import LossPoint, TrainStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunArtifacts:
    """The files of one training run under ``out_dir`` (``<artifacts>/lora_checkpoint/<backbone>/<variant>``)."""

    out_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def adapter(self) -> Path:
        """PEFT adapter folder (PeftModel.from_pretrained / vLLM LoRARequest)."""
        return self.out_dir / "adapter"

    @property
    def adapter_config(self) -> Path:
        return self.adapter / "adapter_config.json"

    @property
    def adapter_weights(self) -> Path:
        return self.adapter / "adapter_model.safetensors"

    @property
    def metrics(self) -> Path:
        """``TrainStats`` as JSON."""
        return self.out_dir / "metrics.json"

    @property
    def loss_curve(self) -> Path:
        return self.out_dir / "loss_curve.png"

    @property
    def model_card(self) -> Path:
        return self.out_dir / "README.md"

    @property
    def train_log(self) -> Path:
        """The trainer's log history, one JSON record per line."""
        return self.out_dir / "train_log.jsonl"

    @property
    def checkpoints(self) -> Path:
        """Resumable checkpoints; a re-run with the same fingerprint continues from the last one."""
        return self.out_dir / "checkpoints"

    @property
    def job(self) -> Path:
        """What TrainerResource hands the worker subprocess (resources/train_worker.py)."""
        return self.out_dir / "train_job.json"

    @property
    def mlflow(self) -> Path:
        """The MLflow run and registry version of this adapter (train/tracking.py)."""
        return self.out_dir / "mlflow.json"

    @property
    def complete(self) -> bool:
        """The adapter folder is in place (it is swapped in whole, config and weights together)."""
        return self.adapter_config.exists()

    def files(self) -> tuple[Path, ...]:
        """The single files a finished run leaves beside its adapter folder, as MLflow logs them."""
        return self.model_card, self.metrics, self.loss_curve


def loss_series(log_history: list[dict]) -> tuple[list[LossPoint], list[LossPoint]]:
    """(train_loss, eval_loss) from a trainer's log history."""
    train = [LossPoint(r["step"], r["loss"]) for r in log_history if "loss" in r and "step" in r]
    evals = [LossPoint(r["step"], r["eval_loss"]) for r in log_history if "eval_loss" in r and "step" in r]
    # A resumed run can log the same step twice (the final evaluate); keep the last of each.
    return list({p.step: p for p in train}.values()), list({p.step: p for p in evals}.values())


def plot_losses(train: list[LossPoint], evals: list[LossPoint], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if train:
        ax.plot([p.step for p in train], [p.loss for p in train], label="train", marker=".")
    if evals:
        ax.plot([p.step for p in evals], [p.loss for p in evals], label="validation", marker="o")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (x tokens + end-of-turn)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)


def model_card(stats: TrainStats) -> str:
    lora, data, params, choice = stats.lora, stats.data, stats.params, stats.choice
    return "\n".join([
        f"# vvae LoRA adapter: {stats.backbone} / {stats.variant}",
        "",
        f"Base model: `{stats.base_model}`. V-VAE SFT variant `{stats.variant}`; loss on the final",
        "assistant reply x and its end-of-turn token only.",
        "",
        "| | |", "|---|---|",
        f"| LoRA | r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, "
        f"targets={', '.join(lora.target_modules or ())} |",
        f"| optimizer steps | {stats.steps} (lr {params.learning_rate}, {params.lr_scheduler}, "
        f"batch {params.batch_size} x accum {params.grad_accum}, max_length {params.max_length}) |",
        f"| train examples | {data.train.examples} ({data.train.target_tokens} target tokens) |",
        f"| validation examples | {data.validation.examples if data.validation else 0} |",
        f"| final validation loss | {stats.final_eval_loss} |",
        f"| real tokens trained | {stats.real_tokens} |",
        f"| device | {choice.device} {choice.dtype}, packing={choice.packing}, liger={choice.liger} |",
        f"| seconds | {stats.seconds} |",
        "",
        "Load with `PeftModel.from_pretrained(base, 'adapter')` or vLLM `LoRARequest(name, id, 'adapter')`.",
        "",
    ])


def write_outputs(trainer, run: RunArtifacts, stats: TrainStats) -> None:
    """Write the artifact contract (``RunArtifacts``) of a finished run: adapter, log, stats, curve, card."""
    run.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_dir(run.adapter, lambda tmp: trainer.model.save_pretrained(str(tmp)))
    atomic_write_bytes(run.train_log,
                       "".join(json.dumps(r, default=str) + "\n" for r in trainer.state.log_history).encode())
    atomic_write_bytes(run.metrics, stats.to_json().encode())
    plot_losses(stats.train_loss, stats.eval_loss, run.loss_curve, f"{stats.backbone} / {stats.variant}")
    atomic_write_bytes(run.model_card, model_card(stats).encode())


def read_trained(backbone_dir: Path, variants) -> tuple[dict[str, str], dict[str, TrainStats]]:
    """({variant: adapter folder}, {variant: TrainStats}) for the variants under ``backbone_dir``
    (``<artifacts>/lora_checkpoint/<backbone>``) whose adapter folder is complete. A variant whose
    metrics.json is missing or not a ``TrainStats`` (a file from before a field existed) keeps its
    adapter, is scored, and has no stats (a warning; the report shows no training numbers for it)."""
    adapters, stats = {}, {}
    for v in variants:
        run = RunArtifacts(Path(backbone_dir) / v)
        if run.complete:
            adapters[v] = str(run.adapter)
            try:
                stats[v] = TrainStats.from_json(run.metrics.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError, TypeError) as e:  # JSONDecodeError is a ValueError
                log.warning("%s: no TrainStats (%s: %s); its adapter is scored without them",
                            run.metrics, type(e).__name__, e)
    return adapters, stats


def checkpoint_metadata(run: RunArtifacts, stats: TrainStats, rows: dict[str, int]) -> dict:
    """What a lora_checkpoint materialization shows, as plain values (paths as ``Path``, tables as
    dicts; Dagster turns them into path, JSON, int, float and text entries). ``rows``: the SFT
    table's row count per split."""
    return {
        "adapter": run.adapter, "metrics": run.metrics, "loss_curve": run.loss_curve,
        "model_card": run.model_card, "train_log": run.train_log,
        "base_model": stats.base_model,
        "steps": int(stats.steps),
        "resumed_from_step": int(stats.resumed_from_step),
        "final_eval_loss": float(stats.final_eval_loss) if stats.final_eval_loss is not None
        else "no validation rows",
        "real_tokens": int(stats.real_tokens),
        "seconds": float(stats.seconds),
        "train_rows": int(rows.get("train", 0)),
        "train_examples_used": int(stats.data.train.examples),
        "skipped_rows": {split: {"dropped_too_long": st.dropped_too_long, "invalid_reasons": st.invalid_reasons}
                         for split, st in stats.data.splits().items()},
        "validation_rows": int(rows.get("validation", 0)),
    }
