"""LoRA fine-tuning of a backbone on one SFT variant (trl SFTTrainer + peft).

``train_lora(examples, base_model, out_dir, params)`` tokenises the rows with the backbone's chat
template (loss only on the final assistant reply x and its end-of-turn token, see masking.py),
trains a LoRA adapter with per-step validation loss, and writes the artifact contract:

    out_dir/adapter/            PEFT adapter (PeftModel.from_pretrained / vLLM LoRARequest)
    out_dir/metrics.json        backbone, variant, base_model, steps, train_loss, eval_loss, ...
    out_dir/loss_curve.png      train and validation loss per step
    out_dir/README.md           model card
    out_dir/train_log.jsonl     the trainer's log history, one record per line
    out_dir/checkpoints/        resumable checkpoints; a re-run continues from the last one

On a GPU the rows are packed padding-free (trl "bfd": position ids restart per example and the
attention kernel gets the sequence boundaries); on CPU plain padding is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from vvae_pipeline.backbones import BACKBONES, Backbone
from vvae_pipeline.params import LoraParams, TrainParams
from vvae_pipeline.train.masking import tokenize_examples
from vvae_pipeline.train.trl_wiring import build_sft_trainer, log_callback

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"


def resolve(params: TrainParams, cuda_available: bool, liger_available: bool, flash_available: bool,
            cpu_bf16: bool = False) -> dict:
    """The concrete device choices ``params`` stands for on this machine.

    ``cpu_bf16``: this CPU multiplies bf16 natively (see ``cpu_has_native_bf16``).
    """
    device = params.device if params.device != "auto" else ("cuda" if cuda_available else "cpu")
    gpu = device == "cuda"
    dtype = params.dtype if params.dtype != "auto" else ("bfloat16" if gpu else "float32")
    autocast = params.autocast == "bf16" or (params.autocast == "auto" and not gpu and cpu_bf16)
    return {
        "device": device,
        "dtype": dtype,
        # fp32 weights under bf16 autocast; bf16 weights already train under the trainer's bf16 flag
        "autocast": "bf16" if autocast and dtype == "float32" else None,
        "packing": params.packing == "on" or (params.packing == "auto" and gpu),
        "liger": params.use_liger == "on" or (params.use_liger == "auto" and gpu and liger_available),
        "attn": params.attn_implementation if params.attn_implementation != "auto"
        else ("flash_attention_2" if gpu and flash_available else "sdpa"),
    }


def cpu_has_native_bf16() -> bool:
    """True when oneDNN runs bf16 matmuls in hardware here (AVX512-BF16 or AMX), not emulated."""
    import torch

    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(bool(p()) for p in probes if p is not None)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def fingerprint(examples: list[dict], base_model: str, params: TrainParams) -> str:
    """Hash of everything that decides the training run; a checkpoint from another run is not resumed."""
    h = hashlib.sha256()
    # Thread count changes speed, not the result: a run resumed with other threads is the same run.
    h.update(json.dumps([base_model, asdict(replace(params, torch_threads=0))], sort_keys=True, default=str).encode())
    for ex in examples:
        h.update(json.dumps([ex.get("split"), ex["messages"]], sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def prepare_checkpoints(out_dir: Path, fp: str) -> Path:
    """The checkpoint folder for run ``fp``: kept when it belongs to the same run, else emptied."""
    ckpt = out_dir / CHECKPOINTS
    marker = ckpt / "fingerprint.json"
    if ckpt.exists() and (not marker.exists() or json.loads(marker.read_text()).get("fingerprint") != fp):
        log.info("checkpoints in %s belong to another run; starting fresh", ckpt)
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"fingerprint": fp}))
    return ckpt


def _datasets(examples: list[dict], tokenizer, max_length: int):
    from datasets import Dataset

    out, stats = {}, {}
    for split in ("train", "validation"):
        rows = [ex["messages"] for ex in examples if ex.get("split") == split]
        feats, st = tokenize_examples(rows, tokenizer, max_length)
        stats[split] = st
        out[split] = Dataset.from_list(feats) if feats else None
    if out["train"] is None:
        raise ValueError(f"no trainable examples in the train split (stats: {stats['train']})")
    return out["train"], out["validation"], stats


def _finished(checkpoint: str) -> bool:
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return state.get("max_steps", 0) > 0 and state["global_step"] >= state["max_steps"]


def _load_finished(trainer, checkpoint: str) -> None:
    from peft import load_peft_weights, set_peft_model_state_dict
    from transformers import TrainerState

    set_peft_model_state_dict(trainer.model, load_peft_weights(checkpoint))
    trainer.state = TrainerState.load_from_json(str(Path(checkpoint) / "trainer_state.json"))


def train_lora(examples: list[dict], base_model: str, out_dir: str | Path, params: TrainParams, *,
               backbone: str = "", variant: str = "",
               callbacks: list | None = None, emit: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) one adapter and write the artifact contract under ``out_dir``; returns stats.

    ``examples``: dicts with ``messages`` and ``split`` (schemas.SFTExample rows).
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.trainer_utils import get_last_checkpoint

    from vvae_pipeline.llm.models import load_tokenizer
    from vvae_pipeline.train.artifacts import write_outputs

    started = time.perf_counter()
    if params.torch_threads:
        torch.set_num_threads(params.torch_threads)
    if params.lora.target_modules is None:
        targets = BACKBONES[backbone].lora_targets if backbone in BACKBONES else Backbone.lora_targets
        params = replace(params, lora=replace(params.lora, target_modules=tuple(targets)))
    choice = resolve(params, torch.cuda.is_available(), _importable("liger_kernel"), _importable("flash_attn"),
                     cpu_has_native_bf16())
    out_dir = Path(out_dir)
    fp = fingerprint(examples, base_model, params)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch: rank 0 wipes stale checkpoints first
        from accelerate import PartialState

        with PartialState().main_process_first():
            ckpt_dir = prepare_checkpoints(out_dir, fp) if PartialState().is_main_process else out_dir / CHECKPOINTS
    else:
        ckpt_dir = prepare_checkpoints(out_dir, fp)

    tokenizer = load_tokenizer(base_model)
    train_ds, eval_ds, data_stats = _datasets(examples, tokenizer, params.max_length)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=getattr(torch, choice["dtype"]),
                                                 attn_implementation=choice["attn"])
    model.config.use_cache = False
    cbs = list(callbacks or [])
    if emit:
        cbs.append(log_callback(emit))
    trainer = build_sft_trainer(model, tokenizer, train_ds, eval_ds, params, choice, str(ckpt_dir), cbs)
    last = get_last_checkpoint(str(ckpt_dir))
    if last and _finished(last):
        # Same fingerprint and the checkpoint is the final step: reload instead of training on (the
        # trainer would otherwise run one extra step past max_steps when resumed at the end).
        _load_finished(trainer, last)
        if emit:
            emit(f"{Path(last).name} is the final step of this run; reusing it")
    else:
        if last and emit:
            emit(f"resuming from {Path(last).name}")
        trainer.train(resume_from_checkpoint=last)
    final_eval = {}
    if eval_ds is not None:
        # The last eval step usually coincides with the final step; evaluate again only if it did not.
        done = [r for r in trainer.state.log_history if "eval_loss" in r and r.get("step") == trainer.state.global_step]
        final_eval = done[-1] if done else trainer.evaluate()
    if trainer.is_world_process_zero():
        trainer.save_state()
    stats = {
        "backbone": backbone,
        "variant": variant,
        "base_model": base_model,
        "steps": trainer.state.global_step,
        "epochs": round(float(trainer.state.epoch or 0.0), 3),
        "resumed_from_step": int(Path(last).name.split("-")[-1]) if last else 0,
        "real_tokens": int(trainer.state.num_input_tokens_seen),
        "final_eval_loss": final_eval.get("eval_loss"),
        "choice": choice,
        "lora": asdict(params.lora),
        "data": data_stats,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if trainer.is_world_process_zero():
        stats = write_outputs(trainer, out_dir, stats, params)
    return stats


def params_to_dict(params: TrainParams) -> dict:
    return asdict(params)


def params_from_dict(d: dict) -> TrainParams:
    """Inverse of ``params_to_dict`` (JSON turns tuples into lists); unknown keys are an error."""
    d = dict(d)
    lora = dict(d.pop("lora", {}) or {})
    if lora.get("target_modules") is not None:
        lora["target_modules"] = tuple(lora["target_modules"])
    return TrainParams(lora=LoraParams(**lora), **d)
