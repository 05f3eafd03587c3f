"""trl SFTTrainer wiring shared by the pipeline (training.py) and the speed bench.

Datasets arrive pre-tokenised as ``{input_ids, labels}`` (labels -100 outside x + end-of-turn, see
masking.py), so trl only pads, or packs padding-free ("bfd": best-fit decreasing into rows of
max_length; position ids restart per example and the varlen kernel gets the boundaries).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vvae_pipeline.params import TrainParams


def counting_sft_trainer():
    """SFTTrainer that counts real (non-pad) tokens into ``state.num_input_tokens_seen``.

    Kept in the trainer state so the count survives a resume. Padded batches carry an attention
    mask; padding-free packed rows (no pad_to_multiple_of) contain no pads at all.
    """
    import torch
    from trl import SFTTrainer

    class CountingSFTTrainer(SFTTrainer):
        def training_step(self, model, inputs, num_items_in_batch=None):
            ids = inputs["input_ids"]
            real = inputs["attention_mask"].sum() if "attention_mask" in inputs else torch.tensor(ids.numel())
            self.state.num_input_tokens_seen += int(self.accelerator.gather(real.reshape(1).to(ids.device)).sum())
            return super().training_step(model, inputs, num_items_in_batch)

    return CountingSFTTrainer


def build_sft_trainer(model, tokenizer, train_ds, eval_ds, params: TrainParams, choice: dict, output_dir: str,
                      callbacks: list | None = None, peft: bool = True):
    """An SFTTrainer on pre-tokenised ``{input_ids, labels}`` datasets; the bench uses it too."""
    from peft import LoraConfig
    from trl import SFTConfig

    _Trainer = counting_sft_trainer()

    gpu = choice["device"] == "cuda"
    evaluate = eval_ds is not None and len(eval_ds) > 0
    config = SFTConfig(
        output_dir=output_dir,
        max_steps=params.max_steps,
        num_train_epochs=params.num_epochs,
        per_device_train_batch_size=params.batch_size,
        # Eval is padded (eval_packing=False); a packed row of max_length holds ~4 dialogue examples.
        per_device_eval_batch_size=params.batch_size * (4 if choice["packing"] else 1),
        gradient_accumulation_steps=params.grad_accum,
        learning_rate=params.learning_rate,
        warmup_steps=params.warmup_ratio,  # a float < 1 is a ratio of the total steps
        lr_scheduler_type=params.lr_scheduler,
        logging_steps=params.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=params.eval_steps,
        save_strategy="steps",
        save_steps=params.save_steps,
        save_total_limit=params.save_total_limit,
        seed=params.seed,
        data_seed=params.seed,
        bf16=choice["dtype"] == "bfloat16" or choice["autocast"] == "bf16",
        fp16=choice["dtype"] == "float16",
        use_cpu=not gpu,
        activation_checkpointing=params.gradient_checkpointing,
        use_liger_kernel=choice["liger"],
        max_length=params.max_length,
        packing=choice["packing"],
        train_sampling_strategy="group_by_length" if params.group_by_length and not choice["packing"] else "random",
        packing_strategy="bfd",  # best-fit decreasing, padding-free: boundaries go to the kernel
        eval_packing=False,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    peft_config = None
    if peft:
        layers = None
        if params.lora.top_layers is not None:
            n = int(model.config.num_hidden_layers)
            layers = list(range(max(0, n - params.lora.top_layers), n))
        peft_config = LoraConfig(r=params.lora.r, lora_alpha=params.lora.alpha, lora_dropout=params.lora.dropout,
                                 target_modules=list(params.lora.target_modules), layers_to_transform=layers,
                                 task_type="CAUSAL_LM")
    from transformers import PrinterCallback

    trainer = _Trainer(model=model, args=config, train_dataset=train_ds, eval_dataset=eval_ds if evaluate else None,
                       processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks or [])
    trainer.remove_callback(PrinterCallback)  # log lines go through ``emit`` (numbers only) instead
    return trainer


def log_callback(emit: Callable[[str], None]):
    """A TrainerCallback forwarding numeric log lines (never text) to ``emit``."""
    from transformers import TrainerCallback

    class LogCallback(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            nums = {k: round(v, 4) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
            emit(f"step {state.global_step}/{state.max_steps}: {json.dumps(nums)}")

    return LogCallback()
