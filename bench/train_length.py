"""Choose a preset's training length from validation loss: train one variant longer than the preset
does, keep a checkpoint every few steps, and print the validation loss at each.

Reads a finished main-job home (``$VVAE_HOME`` of ``python -m assets.main --size SIZE``): its SFT table
for the variant and the embedded model. Trains a fresh adapter with the preset's ``lora_checkpoint``
settings (deploy/run_config/SIZE.yaml) except the length (``--epochs``) and the checkpoint interval
(``--save-steps``), into ``--out`` (never the home's own adapters), then scores every checkpoint on the
validation split exactly as ``bench/learning_curve.py --loss-only`` does (masked as in training).

The rule, fixed before any curve is read: the step count is the kept checkpoint with the lowest
validation loss. When that is the last one, the curve has not turned within ``--epochs`` and the
script says so rather than choosing. The learning-rate schedule decays over the whole longer run, so
a checkpoint at step k is not the same model as a k-step run: the curve says how many epochs are
worth training, and the preset's choice is then checked by its own run's final validation loss.

    .venv/bin/python bench/train_length.py --home .vvae --size demo --variant sp_ft --epochs 4 --out /tmp/len
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout
sys.path.insert(0, str(REPO / "bench"))

from learning_curve import kept_points  # noqa: E402 (after the path setup)


def preset_train_config(size: str) -> dict:
    """The preset's ``lora_checkpoint`` settings, read by the main job's own loader (it validates the file)."""
    from assets.main import load_preset

    return dict(load_preset(size)["jobs"]["train_job"]["ops"]["lora_checkpoint"]["config"])


def preset_steps(preset: dict, steps_per_epoch: int) -> int:
    """The optimizer steps the preset trains (max_steps wins over num_epochs, as in TrainParams)."""
    if preset.get("max_steps", -1) > 0:
        return int(preset["max_steps"])
    return int(steps_per_epoch * preset.get("num_epochs", 1))


def choose(curve: list[dict]) -> dict:
    """The rule: the lowest validation loss wins; ``turned`` is False when that is the last point."""
    best = min(curve, key=lambda r: r["val_loss"])
    return {**best, "turned": best["step"] != curve[-1]["step"]}


def main(argv=None) -> int:
    import polars as pl
    from learning_curve import validation_losses

    from assets.train import TrainConfig
    from vvae_pipeline.llm.models import resolve_model_path
    from vvae_pipeline.train.artifacts import RunArtifacts
    from vvae_pipeline.train.run import train_lora

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--size", required=True, help="the preset whose training settings are used")
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--variant", default="sp_ft")
    ap.add_argument("--epochs", type=float, default=4.0)
    ap.add_argument("--save-steps", type=int, default=0, help="checkpoint interval; 0: about 4 per epoch")
    ap.add_argument("--out", required=True, help="folder for the adapter and its checkpoints")
    ap.add_argument("--json", help="also write the curve here")
    args = ap.parse_args(argv)

    home = Path(args.home)
    table = home / "tables" / "sft_dataset" / args.backbone / f"{args.variant}.parquet"
    sft = pl.read_parquet(table)
    n_train = sft.filter(pl.col("split") == "train").height
    preset = preset_train_config(args.size)
    steps_per_epoch = -(-n_train // (preset["batch_size"] * preset.get("grad_accum", 1)))
    save_steps = args.save_steps or max(1, steps_per_epoch // 4)
    total = int(steps_per_epoch * args.epochs)
    cfg = TrainConfig(**{**preset, "num_epochs": args.epochs, "max_steps": -1, "save_steps": save_steps,
                         "save_total_limit": total // save_steps + 2, "eval_steps": total + 1})
    base_path = resolve_model_path(args.backbone, home / "models")
    started = time.perf_counter()
    stats = train_lora(sft.to_dicts(), str(base_path), args.out, cfg.to_params(),
                       backbone=args.backbone, variant=args.variant)
    train_s = time.perf_counter() - started

    points = kept_points(RunArtifacts(args.out), stats.steps)
    val = validation_losses(base_path, sft.filter(pl.col("split") == "validation"), [p for _, p in points],
                            max_length=cfg.max_length)
    curve = [{"step": 0, "epoch": 0.0, "val_loss": val[None]}] + [
        {"step": s, "epoch": round(s / steps_per_epoch, 2), "val_loss": val[p]} for s, p in points]
    best = choose(curve)
    preset_at = preset_steps(preset, steps_per_epoch)
    print(f"{args.size} / {args.variant}: {n_train} train rows, {steps_per_epoch} steps per epoch; "
          f"{val['n']} validation examples; trained {stats.steps} steps in {train_s:.0f} s")
    print("| step | epoch | validation loss |\n|---|---|---|")
    for r in curve:
        mark = " (preset)" if r["step"] == preset_at else ""
        print(f"| {r['step']}{mark} | {r['epoch']} | {r['val_loss']:.4f} |")
    if best["turned"]:
        print(f"lowest validation loss: step {best['step']} (epoch {best['epoch']}, {best['val_loss']:.4f})")
    else:
        print(f"lowest validation loss at the last point (step {best['step']}): the curve has not turned "
              f"within {args.epochs} epochs; train longer before choosing")
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "variant": args.variant, "curve": curve,
                                               "steps_per_epoch": steps_per_epoch, "chosen": best,
                                               "validation_examples": val["n"], "train_seconds": train_s},
                                              indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
