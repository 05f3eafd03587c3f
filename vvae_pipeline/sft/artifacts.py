"""The files an sft_dataset partition leaves beside its table: ``SFTArtifacts`` names them (the
dataset card and ``build_sft``'s stats as JSON); the writer (assets/sft.py) and the readers (the
lora_checkpoint MLflow run, assets/train.py) go through it, never through a file name spelled by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SFTArtifacts:
    """The files of one partition under ``out_dir`` (``<artifacts>/sft_dataset/<backbone>/<variant>``)."""

    out_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def card(self) -> Path:
        """``dataset_card(stats)`` as Markdown."""
        return self.out_dir / "dataset_card.md"

    @property
    def stats(self) -> Path:
        """``build_sft``'s stats dict as JSON."""
        return self.out_dir / "stats.json"

    def scalar_stats(self) -> dict[str, int | float | str]:
        """The stats' top-level numbers and strings (what an MLflow run logs as params); {} when the
        file is missing or unreadable."""
        try:
            stats = json.loads(self.stats.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in stats.items() if isinstance(v, int | float | str)}
