"""LoRA fine-tuning of a backbone on one SFT variant (trl SFTTrainer + peft).

``train_lora(examples, base_model, out_dir, params)`` tokenises the rows with the backbone's chat
template (loss only on the final assistant reply x and its end-of-turn token, see masking.py),
trains a LoRA adapter with per-step validation loss, and writes the artifact contract
(``artifacts.RunArtifacts``: adapter folder, metrics.json holding the returned ``stats.TrainStats``,
loss curve, model card, training log, resumable checkpoints a re-run continues from).

The run, phase by phase (each a function below): ``_configure`` (LoRA targets, device choice),
``_checkpoint_dir`` (keep or wipe checkpoints by fingerprint), ``_build_trainer`` (tokenise, load,
wire trl), ``_fit`` (train, resume, or reload a finished run), ``_final_eval``, ``_collect`` (the
``TrainStats``), then ``artifacts.write_outputs`` on rank 0.

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
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from vvae_pipeline.backbones import BACKBONES, Backbone
from vvae_pipeline.params import LoraParams, TrainParams  # noqa: F401 (re-exported for the tests)
from vvae_pipeline.train.artifacts import RunArtifacts, loss_series, write_outputs
from vvae_pipeline.train.masking import tokenize_examples
from vvae_pipeline.train.stats import (  # noqa: F401 (params_*: re-exported)
    DataStats,
    DeviceChoice,
    SplitStats,
    TrainStats,
    params_from_dict,
    params_to_dict,
)
from vvae_pipeline.train.trl_wiring import build_sft_trainer, log_callback

log = logging.getLogger(__name__)


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
    ckpt = RunArtifacts(out_dir).checkpoints
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
        stats[split] = SplitStats(**st)
        out[split] = Dataset.from_list(feats) if feats else None
    if out["train"] is None:
        raise ValueError(f"no trainable examples in the train split (stats: {stats['train']})")
    return out["train"], out["validation"], DataStats(**stats)


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
               callbacks: list | None = None, emit: Callable[[str], None] | None = None) -> TrainStats:
    """Train (or resume) one adapter and write the artifact contract under ``out_dir``; returns its stats.

    ``examples``: dicts with ``messages`` and ``split`` (schemas.SFTExample rows).
    """
    started = time.perf_counter()
    run = RunArtifacts(out_dir)
    params, choice = _configure(params, backbone)
    ckpt_dir = _checkpoint_dir(run, fingerprint(examples, base_model, params))
    trainer, eval_ds, data = _build_trainer(examples, base_model, params, choice, ckpt_dir, callbacks, emit)
    last = _fit(trainer, ckpt_dir, emit)
    final_eval = _final_eval(trainer, eval_ds)
    if trainer.is_world_process_zero():
        trainer.save_state()
    stats = _collect(trainer, last, final_eval, backbone=backbone, variant=variant, base_model=base_model,
                     params=params, choice=choice, data=data, seconds=time.perf_counter() - started)
    if trainer.is_world_process_zero():
        write_outputs(trainer, run, stats)
    return stats


def _configure(params: TrainParams, backbone: str) -> tuple[TrainParams, DeviceChoice]:
    """``params`` with the backbone's LoRA targets filled in, and what they resolve to on this machine."""
    import torch

    if params.torch_threads:
        torch.set_num_threads(params.torch_threads)
    if params.lora.target_modules is None:
        targets = BACKBONES[backbone].lora_targets if backbone in BACKBONES else Backbone.lora_targets
        params = replace(params, lora=replace(params.lora, target_modules=tuple(targets)))
    choice = resolve(params, torch.cuda.is_available(), _importable("liger_kernel"), _importable("flash_attn"),
                     cpu_has_native_bf16())
    return params, DeviceChoice(**choice)


def _checkpoint_dir(run: RunArtifacts, fp: str) -> Path:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # accelerate launch: rank 0 wipes stale checkpoints first
        from accelerate import PartialState

        with PartialState().main_process_first():
            return prepare_checkpoints(run.out_dir, fp) if PartialState().is_main_process else run.checkpoints
    return prepare_checkpoints(run.out_dir, fp)


def _build_trainer(examples: list[dict], base_model: str, params: TrainParams, choice: DeviceChoice, ckpt_dir: Path,
                   callbacks: list | None, emit: Callable[[str], None] | None):
    """(trainer, validation dataset or None, tokenisation counts)."""
    import torch
    from transformers import AutoModelForCausalLM

    from vvae_pipeline.llm.models import load_tokenizer

    tokenizer = load_tokenizer(base_model)
    train_ds, eval_ds, data = _datasets(examples, tokenizer, params.max_length)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=getattr(torch, choice.dtype),
                                                 attn_implementation=choice.attn)
    model.config.use_cache = False
    cbs = list(callbacks or [])
    if emit:
        cbs.append(log_callback(emit))
    trainer = build_sft_trainer(model, tokenizer, train_ds, eval_ds, params, asdict(choice), str(ckpt_dir), cbs)
    return trainer, eval_ds, data


def _fit(trainer, ckpt_dir: Path, emit: Callable[[str], None] | None) -> str | None:
    """Train, resuming from the last checkpoint of this run; returns that checkpoint (None: from scratch)."""
    from transformers.trainer_utils import get_last_checkpoint

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
    return last


def _final_eval(trainer, eval_ds) -> dict:
    if eval_ds is None:
        return {}
    # The last eval step usually coincides with the final step; evaluate again only if it did not.
    done = [r for r in trainer.state.log_history if "eval_loss" in r and r.get("step") == trainer.state.global_step]
    return done[-1] if done else trainer.evaluate()


def _collect(trainer, last: str | None, final_eval: dict, *, backbone: str, variant: str, base_model: str,
             params: TrainParams, choice: DeviceChoice, data: DataStats, seconds: float) -> TrainStats:
    state = trainer.state
    train_loss, eval_loss = loss_series(state.log_history)
    return TrainStats(
        backbone=backbone, variant=variant, base_model=base_model,
        steps=state.global_step,
        epochs=round(float(state.epoch or 0.0), 3),
        resumed_from_step=int(Path(last).name.split("-")[-1]) if last else 0,
        real_tokens=int(state.num_input_tokens_seen),
        final_eval_loss=final_eval.get("eval_loss"),
        choice=choice, data=data, seconds=round(seconds, 2), params=params,
        train_loss=train_loss, eval_loss=eval_loss,
    )
