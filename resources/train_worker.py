"""Training worker: runs one LoRA job in its own process so its memory (and GPU memory) is freed
when it exits. Started by ``TrainerResource`` through Dagster Pipes, directly or under
``accelerate launch`` (one process per GPU).

    python -m resources.train_worker JOB.json

JOB.json (written by the resource): data_path, base_model, out_dir, params, backbone, variant.
Only rank 0 talks to Dagster (logs); every rank trains. The result is the run's metrics.json
(``RunArtifacts.metrics``: ``TrainStats`` as JSON).
Imports ``dagster_pipes`` only, never ``dagster``.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vvae_pipeline.train.stats import TrainStats


def load_examples(data_path: str) -> list[dict]:
    import polars as pl

    df = pl.read_parquet(data_path, columns=["messages", "split"])
    return df.to_dicts()


def run(job: dict, emit=print) -> TrainStats:
    from vvae_pipeline.train.run import params_from_dict, train_lora

    return train_lora(load_examples(job["data_path"]), job["base_model"], job["out_dir"],
                      params_from_dict(job["params"]), backbone=job["backbone"], variant=job["variant"], emit=emit)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as fh:
        job = json.load(fh)
    rank0 = int(os.environ.get("RANK", "0")) == 0
    from dagster_pipes import DAGSTER_PIPES_CONTEXT_ENV_VAR, open_dagster_pipes

    # Started by Dagster (the context env var is set) and rank 0: report through Pipes; else print.
    pipes_cm = open_dagster_pipes() if rank0 and DAGSTER_PIPES_CONTEXT_ENV_VAR in os.environ else nullcontext(None)
    with pipes_cm as pipes:
        emit = pipes.log.info if pipes is not None else print
        stats = run(job, emit)
        if pipes is not None:
            emit(f"done: {stats.steps} steps, final eval loss {stats.final_eval_loss}, {stats.seconds} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
