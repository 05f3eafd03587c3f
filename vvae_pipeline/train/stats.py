"""What one LoRA run reports: ``TrainStats``, returned by ``train_lora`` and written as metrics.json.

The stats cross the trainer subprocess boundary as that file (resources/train_worker.py writes it
through ``train_lora``, TrainerResource reads it back), so every field is a typed attribute and a
misspelled one is an AttributeError where it is written, not a KeyError in production. The JSON
keeps the layout metrics.json always had (``lora`` beside ``params``, losses as ``{step, loss}``);
the benchmark reads it back as ``TrainStats`` too (``artifacts.read_trained``), by attribute.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from vvae_pipeline.params import LoraParams, TrainParams


def params_to_dict(params: TrainParams) -> dict:
    return asdict(params)


def params_from_dict(d: dict) -> TrainParams:
    """Inverse of ``params_to_dict`` (JSON turns tuples into lists); unknown keys are an error."""
    d = dict(d)
    lora = dict(d.pop("lora", {}) or {})
    if lora.get("target_modules") is not None:
        lora["target_modules"] = tuple(lora["target_modules"])
    return TrainParams(lora=LoraParams(**lora), **d)


@dataclass(frozen=True)
class SplitStats:
    """Counts from tokenising one split (masking.tokenize_examples); counts only, never text."""

    examples: int
    dropped_too_long: int
    invalid: int
    invalid_reasons: dict[str, int]
    truncated_history: int
    tokens: int
    target_tokens: int


@dataclass(frozen=True)
class DataStats:
    train: SplitStats
    validation: SplitStats | None = None

    def splits(self) -> dict[str, SplitStats]:
        return {k: v for k, v in (("train", self.train), ("validation", self.validation)) if v is not None}


@dataclass(frozen=True)
class DeviceChoice:
    """The concrete device choices the params stood for on the machine that trained (run.resolve)."""

    device: str
    dtype: str
    autocast: str | None
    packing: bool
    liger: bool
    attn: str


@dataclass(frozen=True)
class LossPoint:
    step: int
    loss: float


@dataclass(frozen=True)
class TrainStats:
    backbone: str
    variant: str
    base_model: str
    steps: int
    epochs: float
    resumed_from_step: int
    real_tokens: int
    final_eval_loss: float | None
    choice: DeviceChoice
    data: DataStats
    seconds: float
    params: TrainParams  # as trained: LoRA target modules resolved from the backbone
    train_loss: list[LossPoint] = field(default_factory=list)
    eval_loss: list[LossPoint] = field(default_factory=list)

    @property
    def lora(self) -> LoraParams:
        return self.params.lora

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data"] = {k: asdict(v) for k, v in self.data.splits().items()}
        return {**d, "lora": asdict(self.lora)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    @classmethod
    def from_dict(cls, d: dict) -> TrainStats:
        """Inverse of ``to_dict``; a missing or unknown key is an error (the file is this code's own)."""
        d = dict(d)
        d.pop("lora", None)  # a copy of params.lora
        data = d.pop("data")
        return cls(**{
            **d,
            "choice": DeviceChoice(**d["choice"]),
            "data": DataStats(train=SplitStats(**data["train"]),
                              validation=SplitStats(**data["validation"]) if data.get("validation") else None),
            "params": params_from_dict(d["params"]),
            "train_loss": [LossPoint(**p) for p in d.get("train_loss", [])],
            "eval_loss": [LossPoint(**p) for p in d.get("eval_loss", [])],
        })

    @classmethod
    def from_json(cls, text: str) -> TrainStats:
        return cls.from_dict(json.loads(text))
