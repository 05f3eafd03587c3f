"""LoRA training speed: trl SFTTrainer with its defaults vs the vvae trainer, in one run.

A Qwen2-7B-shaped model with random weights (built from a config, nothing downloaded), LoRA r=16
on all linear layers, dialogue-length data (lognormal around 500 tokens, capped at 2048, loss on
the last ~30% of each example as on a reply x). Both trainers see the same examples. Printed per
trainer: real (non-pad) tokens/s, MFU = 4 x params x tokens/s / peak FLOP/s (LoRA on a frozen base:
forward 2N + activation-gradient backward 2N per token, no weight gradients), peak memory, mean loss;
then the speed ratio.

    python bench/bench_train.py                  # one GPU, the 7B shape (~15 GiB bf16 weights)
    python bench/bench_train.py --tiny           # CPU smoke run of the same code, < 1 minute
    python bench/bench_train.py --json OUT.json  # also write the numbers

Baseline ("trl defaults"): SFTConfig() as shipped (8 sequences a step, padded, activation
checkpointing on, sdpa), only bf16 and max_length=2048 set so neither side truncates.
Ours: vvae_pipeline.train.trl_wiring.build_sft_trainer: padding-free "bfd" packing into rows of max_length
(position ids restart per example, varlen attention), Liger fused kernels when importable, no
activation checkpointing, --rows rows a step. Measured on a lent H100: trl defaults 2,259 tok/s;
packed + Liger 6,955 (8 rows, checkpointing); no checkpointing, 2 x 2048 rows 9,822 (44 GiB).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

# Dense bf16 peak FLOP/s by device name (vendor datasheets, no sparsity).
PEAK_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.0, "A10G": 125.0, "L4": 121.0}

QWEN2_7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768, rope_theta=1e6,
                rms_norm_eps=1e-6, tie_word_embeddings=False)
TINY = dict(vocab_size=2048, hidden_size=128, intermediate_size=352, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False)
LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def dialogue_lengths(n: int, median: float, cap: int, seed: int, sigma: float = 0.7) -> list[int]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [int(x) for x in np.clip(rng.lognormal(math.log(median), sigma, n), 16, cap)]


def make_dataset(n: int, median: float, cap: int, vocab: int, seed: int):
    """Random-token examples with realistic lengths; labels on the final ~30% (the reply x)."""
    import numpy as np
    from datasets import Dataset

    rng = np.random.default_rng(seed + 1)
    rows = []
    for length in dialogue_lengths(n, median, cap, seed):
        ids = rng.integers(3, vocab, size=length).tolist()
        cut = int(length * 0.7)
        rows.append({"input_ids": ids, "labels": [-100] * cut + ids[cut:]})
    return Dataset.from_list(rows)


def tiny_tokenizer():
    """trl needs a processing_class even for pre-tokenised data; only its pad/eos ids are used."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel({"<pad>": 0, "<eos>": 1, "<unk>": 2}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def build_model(shape: dict, dtype, device: str, attn: str, seed: int):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(seed)
    cfg = Qwen2Config(**shape)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)
    model.config.use_cache = False
    return model


class Timer:
    """TrainerCallback timing optimizer steps after ``warmup`` steps (with a device sync)."""

    def __new__(cls, warmup: int, device: str):
        import torch
        from transformers import TrainerCallback

        class _Timer(TrainerCallback):
            def __init__(self):
                self.t0 = None
                self.tokens0 = 0
                self.losses: list[float] = []
                self.result = {}

            def _sync(self):
                if device == "cuda":
                    torch.cuda.synchronize()

            def on_step_end(self, args, state, control, **kw):
                if state.global_step == warmup:
                    self._sync()
                    self.t0, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
                elif state.global_step == state.max_steps and self.t0 is not None:
                    self._sync()
                    secs = time.perf_counter() - self.t0
                    self.result = {"seconds": secs, "real_tokens": state.num_input_tokens_seen - self.tokens0,
                                   "steps": state.global_step - warmup}

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs and state.global_step > warmup:
                    self.losses.append(float(logs["loss"]))

        return _Timer()


def peak_memory_gib(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process-wide on CPU (KiB)


def run_one(name: str, args, dataset, shape: dict) -> dict:
    import torch
    from peft import LoraConfig
    from trl import SFTConfig

    from vvae_pipeline.train.run import LoraParams, TrainParams, resolve
    from vvae_pipeline.train.trl_wiring import build_sft_trainer, counting_sft_trainer

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    steps = args.warmup + args.steps
    out = os.path.join(args.workdir, name)
    timer = Timer(args.warmup, device)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    if name == "trl_defaults":
        model = build_model(shape, dtype, device, "sdpa", args.seed)
        config = SFTConfig(output_dir=out, max_steps=steps, bf16=device == "cuda", use_cpu=device == "cpu",
                           max_length=args.max_length, logging_steps=1, save_strategy="no", report_to="none",
                           disable_tqdm=True, **({"per_device_train_batch_size": args.trl_batch}
                                                 if args.trl_batch else {}))
        lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=list(LINEAR), task_type="CAUSAL_LM")
        trainer = counting_sft_trainer()(model=model, args=config, train_dataset=dataset,
                                         processing_class=tiny_tokenizer(), peft_config=lora, callbacks=[timer])
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
        setup = {"batch": config.per_device_train_batch_size, "packing": False,
                 "activation_checkpointing": config.gradient_checkpointing, "attn": "sdpa", "liger": False}
    else:
        params = TrainParams(lora=LoraParams(r=16, alpha=32, dropout=0.05, target_modules=LINEAR), max_steps=steps,
                             batch_size=args.rows, grad_accum=1, max_length=args.max_length, logging_steps=1,
                             learning_rate=2e-5, lr_scheduler="linear",  # trl's defaults: same optimisation
                             save_steps=10**9, eval_steps=10**9, warmup_ratio=0.0, device=device,
                             packing="on", use_liger="auto", gradient_checkpointing=args.checkpointing,
                             attn_implementation=args.attn)
        import importlib.util as iu

        choice = resolve(params, device == "cuda", iu.find_spec("liger_kernel") is not None,
                         iu.find_spec("flash_attn") is not None)
        choice["dtype"] = "bfloat16" if device == "cuda" else "float32"
        model = build_model(shape, dtype, device, choice["attn"], args.seed)
        trainer = build_sft_trainer(model, tiny_tokenizer(), dataset, None, params, choice, out, [timer])
        setup = {"batch": f"{args.rows} rows x {args.max_length}", "packing": True,
                 "activation_checkpointing": args.checkpointing, "attn": choice["attn"], "liger": choice["liger"]}
    n_params = sum(p.numel() for p in trainer.model.parameters())
    trainer.train()
    r = timer.result
    tok_s = r["real_tokens"] / r["seconds"]
    peak = PEAK_TFLOPS.get(next((k for k in PEAK_TFLOPS if device == "cuda"
                                 and k in torch.cuda.get_device_name()), ""), args.peak_tflops)
    res = {"name": name, **setup, "params": n_params, "steps_timed": r["steps"], "seconds": round(r["seconds"], 2),
           "real_tokens": r["real_tokens"], "real_tok_s": round(tok_s, 1),
           "mfu": round(4 * n_params * tok_s / (peak * 1e12), 4) if peak else None,
           "peak_mem_gib": round(peak_memory_gib(device), 2),
           "loss": round(sum(timer.losses) / len(timer.losses), 4) if timer.losses else None}
    del trainer, model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="small config on CPU (smoke test of this script)")
    ap.add_argument("--steps", type=int, default=None, help="timed optimizer steps (default 20; tiny 4)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 3; tiny 1)")
    ap.add_argument("--rows", type=int, default=None, help="our packed rows per step (default 2; tiny 2)")
    ap.add_argument("--max-length", type=int, default=None, help="tokens per row / cap (default 2048; tiny 256)")
    ap.add_argument("--trl-batch", type=int, default=None, help="override trl's default batch (8)")
    ap.add_argument("--checkpointing", action="store_true", help="activation checkpointing in our trainer too")
    ap.add_argument("--attn", default="auto", help="our attention: auto | flash_attention_2 | sdpa | flex_attention")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak for MFU if the GPU is not in the table")
    ap.add_argument("--only", choices=["trl_defaults", "vvae"], help="run one trainer only")
    ap.add_argument("--examples", type=int, default=None, help="dataset size (default 2000; tiny 96)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="/tmp/vvae-bench-train")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)
    tiny = args.tiny
    args.steps = args.steps or (4 if tiny else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if tiny else 3)
    args.rows = args.rows or 2
    args.max_length = args.max_length or (256 if tiny else 2048)
    args.examples = args.examples or (96 if tiny else 2000)

    import torch

    if tiny:
        torch.set_num_threads(int(os.environ.get("VVAE_TORCH_THREADS", "1")))
    elif not torch.cuda.is_available():
        print("no CUDA device: run with --tiny on CPU", file=sys.stderr)
        return 2
    shape = TINY if tiny else QWEN2_7B
    median = 60 if tiny else 500  # tokens; tiny keeps the same spread at an eighth of the length
    dataset = make_dataset(args.examples, median, args.max_length, shape["vocab_size"], args.seed)
    lengths = dataset["input_ids"]
    print(f"data: {len(lengths)} examples, median {sorted(map(len, lengths))[len(lengths) // 2]} tokens, "
          f"max {max(map(len, lengths))}; device {'cpu' if tiny else torch.cuda.get_device_name()}", flush=True)
    results = []
    for name in ("trl_defaults", "vvae"):
        if args.only and name != args.only:
            continue
        res = run_one(name, args, dataset, shape)
        results.append(res)
        print(json.dumps(res), flush=True)
    if len(results) == 2:
        base, ours = results
        summary = {"speedup": round(ours["real_tok_s"] / base["real_tok_s"], 2),
                   "loss_diff": round(ours["loss"] - base["loss"], 4) if ours["loss"] and base["loss"] else None}
        print(f"{'trainer':14s} {'real tok/s':>11s} {'MFU':>7s} {'peak GiB':>9s} {'loss':>8s}")
        for r in results:
            mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "n/a"
            print(f"{r['name']:14s} {r['real_tok_s']:11,.0f} {mfu:>7s} {r['peak_mem_gib']:9.1f} {r['loss']:8.4f}")
        print(f"speedup vvae / trl defaults: {summary['speedup']}x  (loss difference {summary['loss_diff']})")
        results.append(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
