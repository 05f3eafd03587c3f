"""CPU LoRA training speed on the embedded SmolLM2-135M: the main job's previous settings vs today's.

Every arm trains the real model through ``train_lora`` (the pipeline's own path) on the same real
dialogues (DailyDialog, from ../shared/data), same seed, one epoch each, batch
4 x <= 256 tokens, lr 1e-3, LoRA r=16 on all 7 projections:

- before:   LoRA on all 30 layers, dropout 0.05, rows in random order, fp32 (the main job up to
            2026-12-01);
- fast:     all 30 layers, length-grouped batches (less padding), no LoRA dropout (its random masks
            are a large share of a CPU step), bf16 autocast over fp32 weights (CPUs with AVX512-BF16
            or AMX multiply bf16 natively);
- fasttop8: ``fast`` with LoRA on the top 8 layers only (frozen layers below need no backward
            pass): the demo and reproduce presets;
- after:    top 8 layers, length-grouped, fp32, dropout 0.05 (the presets before autocast);
- grouped / nodrop / bf16 / top16 / top8nodrop: one lever at a time (see ``arms`` in main);
- packed:   ``after`` with padding-free packing (best-fit decreasing into rows of 256, position ids
            restart per example; sdpa gets a block-diagonal mask, tests/unit/test_training.py).

Every arm trains one epoch over the same ``--examples`` dialogues (packed rows hold several, so
that arm takes fewer, larger steps): the losses compare at equal data. With fewer trainable layers
the loss starts slower, so a run of a few steps overstates the gap. Each final adapter is scored
again in fp32 on the validation dialogues (mean loss per target token), the same yardstick for
every arm; the trainer's own eval loss runs under the arm's precision. ``--seeds`` reruns every
arm per seed (data order, LoRA init, dropout), interleaved, so the loss gap can be set against the
seed-to-seed spread.

Printed per run: real (non-pad) tokens/s over the timed steps (the first step is untimed), mean
train loss, final validation loss; then the speed ratio per seed. Ratios only: these machines are
shared, so absolute seconds move with the load.

    .venv/bin/python bench/bench_train_cpu.py [--examples 256] [--arms before,fast,fasttop8] [--seeds 0,1,2]
        [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout


def dialogue_rows(root: Path, n_train: int, n_val: int) -> list[dict]:
    rows = []
    for split, name, n in (("train", "train/dialogues_train.txt", n_train),
                           ("validation", "validation/dialogues_validation.txt", n_val)):
        with open(root / "dailydialog_en" / name, encoding="utf-8") as fh:
            for _, line in zip(range(n), fh):
                turns = [t.strip() for t in line.split("__eou__") if t.strip()][:8]
                turns = turns[: len(turns) - len(turns) % 2]
                if len(turns) < 2:
                    continue
                msgs = [{"role": "system", "content": "You are a friendly companion. Tone: casual."}]
                msgs += [{"role": "user" if j % 2 == 0 else "assistant", "content": t} for j, t in enumerate(turns)]
                rows.append({"messages": msgs, "split": split})
    return rows


def timer_callback():
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self):
            self.t0 = self.tok0 = None
            self.t1 = self.tok1 = None
            self.losses = []

        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 1:
                self.t0, self.tok0 = time.perf_counter(), state.num_input_tokens_seen
            self.t1, self.tok1 = time.perf_counter(), state.num_input_tokens_seen

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    return Timer()


def fp32_eval_loss(model: str, adapter_dir: Path, rows: list[dict], max_length: int) -> float:
    """Validation loss of the saved adapter in fp32, one dialogue at a time: mean over every target
    token, the same yardstick for every arm (the trainer's own eval runs under the arm's autocast)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from vvae_pipeline.llm.models import load_tokenizer
    from vvae_pipeline.train.masking import tokenize_examples

    tok = load_tokenizer(model)
    feats, _ = tokenize_examples([r["messages"] for r in rows if r["split"] == "validation"], tok, max_length)
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    tuned = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for f in feats:
            ids, labels = torch.tensor([f["input_ids"]]), torch.tensor([f["labels"]])
            logits = tuned(input_ids=ids).logits[:, :-1].float()
            target = labels[:, 1:]
            total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                             ignore_index=-100, reduction="sum"))
            count += int((target != -100).sum())
    return total / count


def run(name: str, rows: list[dict], model: str, **changes) -> dict:
    """One epoch over ``rows``: every arm sees the same examples once, so the losses compare."""
    from vvae_pipeline.params import LoraParams, TrainParams
    from vvae_pipeline.train.artifacts import RunArtifacts
    from vvae_pipeline.train.run import train_lora

    lora = LoraParams(r=16, alpha=32, dropout=changes.pop("dropout", 0.05), top_layers=changes.pop("top_layers", None))
    params = TrainParams(lora=lora, max_steps=-1, num_epochs=1, batch_size=4, grad_accum=1, max_length=256,
                         learning_rate=1e-3, warmup_ratio=0.0, eval_steps=10_000, save_steps=10_000,
                         logging_steps=1, device="cpu", torch_threads=0, **changes)
    name = f"{name}-seed{params.seed}"
    timer = timer_callback()
    with tempfile.TemporaryDirectory(prefix=f"vvae-bench-{name}-") as out:
        stats = train_lora(rows, model, out, params, backbone="smollm2-135m", variant=name, callbacks=[timer])
        fp32_loss = fp32_eval_loss(model, RunArtifacts(out).adapter, rows, params.max_length)
    secs = timer.t1 - timer.t0
    res = {"name": name, "seed": params.seed, "steps": stats.steps, "real_tokens": stats.real_tokens,
           "timed_steps": stats.steps - 1, "seconds": round(secs, 2),
           "real_tokens_per_s": round((timer.tok1 - timer.tok0) / secs, 1),
           "mean_train_loss": round(sum(timer.losses) / len(timer.losses), 4),
           "final_eval_loss": round(stats.final_eval_loss, 4), "fp32_eval_loss": round(fp32_loss, 4),
           "lora_top_layers": lora.top_layers, "lora_dropout": lora.dropout, "group_by_length": params.group_by_length,
           "packing": params.packing, "autocast": stats.choice.autocast}
    print(json.dumps(res), flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=256, help="training dialogues (one epoch; 4 a step unpacked)")
    ap.add_argument("--corpora", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--seeds", default="0", help="comma-separated; each seed reruns every arm (data order, "
                    "LoRA init, dropout), so the loss gap can be set against the seed-to-seed spread")
    ap.add_argument("--arms", default="before,fast,fasttop8", help="'before' first, then any of the others")
    args = ap.parse_args(argv)
    import os

    from vvae_pipeline.llm.models import resolve_model_path

    model = resolve_model_path("smollm2-135m", Path(os.environ.get("VVAE_MODELS_DIR") or REPO / ".vvae" / "models"))
    rows = dialogue_rows(Path(args.corpora), n_train=args.examples, n_val=24)
    fp32 = {"autocast": "off"}
    arms = {"before": {"group_by_length": False, **fp32}, "after": {"top_layers": 8, "group_by_length": True, **fp32},
            "packed": {"top_layers": 8, "packing": "on", **fp32}, "grouped": {"group_by_length": True, **fp32},
            "top16": {"top_layers": 16, "group_by_length": True, **fp32},
            "bf16": {"group_by_length": True, "autocast": "bf16"},
            "nodrop": {"group_by_length": True, "dropout": 0.0, **fp32},
            "top8nodrop": {"top_layers": 8, "group_by_length": True, "dropout": 0.0, **fp32},
            "fast": {"group_by_length": True, "autocast": "bf16", "dropout": 0.0},
            "fasttop8": {"top_layers": 8, "group_by_length": True, "autocast": "bf16", "dropout": 0.0}}
    chosen = [a.strip() for a in args.arms.split(",")]
    if chosen[0] != "before" or set(chosen) - set(arms):
        ap.error(f"--arms: 'before' first, then any of {sorted(arms)}")
    seeds = [int(x) for x in args.seeds.split(",")]
    # Arms interleave within a seed, so a change in the machine's load hits every arm alike.
    runs = {seed: {name: run(name, rows, model, seed=seed, **arms[name]) for name in chosen} for seed in seeds}
    summary = {}
    for name in chosen:
        per = [runs[seed][name] for seed in seeds]
        ratio = [runs[seed][name]["real_tokens_per_s"] / runs[seed]["before"]["real_tokens_per_s"] for seed in seeds]
        summary[name] = {"speedup_per_seed": [round(r, 3) for r in ratio],
                         **{f"{k}_per_seed": [r[k] for r in per] for k in ("final_eval_loss", "fp32_eval_loss")},
                         **{f"{k}_mean": round(statistics.fmean(r[k] for r in per), 4)
                            for k in ("final_eval_loss", "fp32_eval_loss")},
                         "fp32_eval_loss_sd": round(statistics.stdev(r["fp32_eval_loss"] for r in per), 4)
                         if len(per) > 1 else None}
        if name != "before":
            print(f"{name}: real tokens/s {', '.join(f'{r:.2f}x' for r in ratio)} of before (seeds {args.seeds}); "
                  f"fp32 eval loss {summary[name]['fp32_eval_loss_mean']} (sd {summary[name]['fp32_eval_loss_sd']}) "
                  f"vs before {summary['before']['fp32_eval_loss_mean']} (sd {summary['before']['fp32_eval_loss_sd']})")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": {str(k): v for k, v in runs.items()}, "summary": summary},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
