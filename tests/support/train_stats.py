"""A ``TrainStats`` as a finished tiny run returns it, for tests that need one without training."""

from dataclasses import replace

from vvae_pipeline.params import LoraParams, TrainParams
from vvae_pipeline.train.stats import DataStats, DeviceChoice, LossPoint, SplitStats, TrainStats


def split_stats(examples: int = 6, **changes) -> SplitStats:
    return replace(SplitStats(examples=examples, dropped_too_long=0, invalid=0, invalid_reasons={},
                              truncated_history=0, tokens=40 * examples, target_tokens=10 * examples), **changes)


def make_stats(step_losses=(2.0, 1.5, 1.2), **changes) -> TrainStats:
    """Three steps on CPU, validation at the last one; ``changes`` replace fields."""
    stats = TrainStats(
        backbone="smollm2-135m", variant="sp_ft", base_model="/models/smollm2", steps=len(step_losses), epochs=1.0,
        resumed_from_step=0, real_tokens=99, final_eval_loss=1.4,
        choice=DeviceChoice(device="cpu", dtype="float32", autocast=None, packing=False, liger=False, attn="sdpa"),
        data=DataStats(train=split_stats(6), validation=split_stats(2)), seconds=1.0,
        params=TrainParams(lora=LoraParams(r=4, alpha=8, target_modules=("q_proj",)), learning_rate=1e-3),
        train_loss=[LossPoint(i + 1, v) for i, v in enumerate(step_losses)],
        eval_loss=[LossPoint(len(step_losses), 1.4)])
    return replace(stats, **changes)
