"""The artifacts of a LoRA run: adapter, metrics.json, loss curve, model card, training log.

Every file is written to a temp name and renamed into place, and the adapter folder is swapped in
whole, so a reader (the benchmark stage) never sees half an artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from vvae_pipeline.storage_io import atomic_write_bytes, atomic_write_dir


def loss_series(log_history: list[dict]) -> tuple[list[dict], list[dict]]:
    """(train_loss, eval_loss) as [{step, loss}] from a trainer's log history."""
    train = [{"step": r["step"], "loss": r["loss"]} for r in log_history if "loss" in r and "step" in r]
    evals = [{"step": r["step"], "loss": r["eval_loss"]} for r in log_history if "eval_loss" in r and "step" in r]
    # A resumed run can log the same step twice (the final evaluate); keep the last of each.
    return list({p["step"]: p for p in train}.values()), list({p["step"]: p for p in evals}.values())


def plot_losses(train: list[dict], evals: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if train:
        ax.plot([p["step"] for p in train], [p["loss"] for p in train], label="train", marker=".")
    if evals:
        ax.plot([p["step"] for p in evals], [p["loss"] for p in evals], label="validation", marker="o")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (x tokens + end-of-turn)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fd, tmp = tempfile.mkstemp(prefix=".loss_curve.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)


def model_card(stats: dict, params) -> str:
    lora = stats["lora"]
    data = stats["data"]
    return "\n".join([
        f"# vvae LoRA adapter: {stats['backbone']} / {stats['variant']}",
        "",
        f"Base model: `{stats['base_model']}`. V-VAE SFT variant `{stats['variant']}`; loss on the final",
        "assistant reply x and its end-of-turn token only.",
        "",
        "| | |", "|---|---|",
        f"| LoRA | r={lora['r']}, alpha={lora['alpha']}, dropout={lora['dropout']}, "
        f"targets={', '.join(lora['target_modules'])} |",
        f"| optimizer steps | {stats['steps']} (lr {params.learning_rate}, {params.lr_scheduler}, "
        f"batch {params.batch_size} x accum {params.grad_accum}, max_length {params.max_length}) |",
        f"| train examples | {data['train']['examples']} ({data['train']['target_tokens']} target tokens) |",
        f"| validation examples | {(data.get('validation') or {}).get('examples', 0)} |",
        f"| final validation loss | {stats['final_eval_loss']} |",
        f"| real tokens trained | {stats['real_tokens']} |",
        f"| device | {stats['choice']['device']} {stats['choice']['dtype']}, packing={stats['choice']['packing']}, "
        f"liger={stats['choice']['liger']} |",
        f"| seconds | {stats['seconds']} |",
        "",
        "Load with `PeftModel.from_pretrained(base, 'adapter')` or vLLM `LoRARequest(name, id, 'adapter')`.",
        "",
    ])


def write_outputs(trainer, out_dir: Path, stats: dict, params) -> dict:
    """Write the artifact contract under ``out_dir``; returns ``stats`` plus the loss series and paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_dir(out_dir / "adapter", lambda tmp: trainer.model.save_pretrained(str(tmp)))
    history = trainer.state.log_history
    train, evals = loss_series(history)
    stats = {**stats, "train_loss": train, "eval_loss": evals, "params": asdict(params)}
    atomic_write_bytes(out_dir / "train_log.jsonl",
                  "".join(json.dumps(r, default=str) + "\n" for r in history).encode())
    atomic_write_bytes(out_dir / "metrics.json", json.dumps(stats, indent=2, default=str).encode())
    plot_losses(train, evals, out_dir / "loss_curve.png", f"{stats['backbone']} / {stats['variant']}")
    atomic_write_bytes(out_dir / "README.md", model_card(stats, params).encode())
    return stats


def read_trained(backbone_dir: Path, variants) -> tuple[dict[str, str], dict[str, dict]]:
    """({variant: adapter folder}, {variant: metrics}) for the variants under ``backbone_dir``
    (``<artifacts>/lora_checkpoint/<backbone>``) whose adapter folder is complete."""
    adapters, metrics = {}, {}
    for v in variants:
        d = Path(backbone_dir) / v
        if (d / "adapter" / "adapter_config.json").exists():
            adapters[v] = str(d / "adapter")
            try:
                metrics[v] = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                metrics[v] = {}
    return adapters, metrics
