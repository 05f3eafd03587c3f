"""CPU LoRA training speed on the embedded SmolLM2-135M: the main job's previous settings vs today's.

Both runs train the real model through ``train_lora`` (the pipeline's own path) on the same real
dialogues (DailyDialog, from ../shared/data), same seed, one epoch each, batch
4 x <= 256 tokens, lr 1e-3, LoRA r=16 on all 7 projections:

- before: LoRA on all 30 layers, rows in random order (the main job up to 2026-12-01);
- after:  LoRA on the top 8 layers only (frozen layers below need no backward pass) and
          length-grouped batches (less padding): today's main-job settings;
- grouped: all 30 layers, length-grouped batches (the grouping alone);
- top16:  LoRA on the top 16 layers, length-grouped (between the two);
- packed: ``after`` with padding-free packing (best-fit decreasing into rows of 256, position ids
          restart per example; sdpa gets a block-diagonal mask, tests/unit/test_training.py).

Every arm trains one epoch over the same ``--examples`` dialogues (packed rows hold several, so
that arm takes fewer, larger steps): the losses compare at equal data. With fewer trainable layers
the loss starts slower, so a run of a few steps overstates the gap.

Printed per run: real (non-pad) tokens/s over the timed steps (the first step is untimed), mean
train loss, final validation loss; then the speed ratio. One run, ratios only: these machines are
shared, so absolute seconds move with the load.

    .venv/bin/python bench/bench_train_cpu.py [--examples 256] [--arms before,after,packed] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
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


def run(name: str, rows: list[dict], model: str, **changes) -> dict:
    """One epoch over ``rows``: every arm sees the same examples once, so the losses compare."""
    from vvae_pipeline.params import LoraParams, TrainParams
    from vvae_pipeline.train.run import train_lora

    lora = LoraParams(r=16, alpha=32, dropout=0.05, top_layers=changes.pop("top_layers", None))
    params = TrainParams(lora=lora, max_steps=-1, num_epochs=1, batch_size=4, grad_accum=1, max_length=256,
                         learning_rate=1e-3, warmup_ratio=0.0, eval_steps=10_000, save_steps=10_000,
                         logging_steps=1, device="cpu", torch_threads=0, **changes)
    timer = timer_callback()
    with tempfile.TemporaryDirectory(prefix=f"vvae-bench-{name}-") as out:
        stats = train_lora(rows, model, out, params, backbone="smollm2-135m", variant=name, callbacks=[timer])
    secs = timer.t1 - timer.t0
    res = {"name": name, "steps": stats["steps"], "real_tokens": stats["real_tokens"],
           "timed_steps": stats["steps"] - 1, "seconds": round(secs, 2),
           "real_tokens_per_s": round((timer.tok1 - timer.tok0) / secs, 1),
           "mean_train_loss": round(sum(timer.losses) / len(timer.losses), 4),
           "final_eval_loss": round(stats["final_eval_loss"], 4), "lora_top_layers": lora.top_layers,
           "group_by_length": params.group_by_length, "packing": params.packing}
    print(json.dumps(res), flush=True)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=256, help="training dialogues (one epoch; 4 a step unpacked)")
    ap.add_argument("--corpora", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--arms", default="before,after,packed",
                    help="'before' first, then any of after, packed, grouped (all layers), top16")
    args = ap.parse_args(argv)
    import os

    from vvae_pipeline.llm.models import resolve_model_path

    model = resolve_model_path("smollm2-135m", Path(os.environ.get("VVAE_MODELS_DIR") or REPO / ".vvae" / "models"))
    rows = dialogue_rows(Path(args.corpora), n_train=args.examples, n_val=24)
    arms = {"before": {"group_by_length": False}, "after": {"top_layers": 8, "group_by_length": True},
            "packed": {"top_layers": 8, "packing": "on"}, "grouped": {"group_by_length": True},
            "top16": {"top_layers": 16, "group_by_length": True}}
    chosen = [a.strip() for a in args.arms.split(",")]
    if chosen[0] != "before" or set(chosen) - set(arms):
        ap.error(f"--arms: 'before' first, then any of {sorted(arms)}")
    results = {name: run(name, rows, model, **arms[name]) for name in chosen}
    base = results["before"]
    ratios = {}
    for name, res in results.items():
        if name == "before":
            continue
        ratios[name] = round(res["real_tokens_per_s"] / base["real_tokens_per_s"], 3)
        print(f"speed-up (real tokens/s, {name} / before): {ratios[name]:.2f}x; final eval loss before "
              f"{base['final_eval_loss']} {name} {res['final_eval_loss']}; mean train loss before "
              f"{base['mean_train_loss']} {name} {res['mean_train_loss']}")
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "ratios": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
