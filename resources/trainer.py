"""Where LoRA training runs: in a subprocess through Dagster Pipes (default) or in-process.

The subprocess is the production path: when it exits, every byte of host and GPU memory the
trainer held is gone, so six adapters in a row do not accumulate allocator caches. With
``num_processes > 1`` it is ``accelerate launch`` (data parallel, one process per GPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dagster as dg
from pydantic import Field

from resources.fields import param_field
from resources.storage import atomic_write_json
from vvae_pipeline.params import TrainParams
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.stats import TrainStats

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class TrainerResource(dg.ConfigurableResource):
    # Where training runs, not what it learns: these four are TrainParams fields (deployment()).
    device: str = param_field(TrainParams, "device")
    dtype: str = param_field(TrainParams, "dtype")
    autocast: str = param_field(TrainParams, "autocast")
    num_processes: int = Field(1, description="> 1: accelerate launch with this many processes (GPUs)")
    use_subprocess: bool = Field(True, description="train in a Dagster Pipes subprocess (frees memory on exit)")
    torch_threads: int = param_field(TrainParams, "torch_threads")
    python: str = Field("", description="interpreter for the subprocess; empty: this one")

    def deployment(self) -> dict:
        """The TrainParams fields this resource owns (where training runs, not what it learns)."""
        return {"device": self.device, "dtype": self.dtype, "autocast": self.autocast,
                "torch_threads": self.torch_threads}

    def command(self, job_path: Path) -> list[str]:
        python = self.python or sys.executable
        if self.num_processes > 1:
            # Explicit flags, so no accelerate config file is needed on the machine; precision is the
            # trainer's (bf16 on GPU), not accelerate's.
            where = ["--cpu"] if self.device == "cpu" else ["--multi_gpu"]
            return [python, "-m", "accelerate.commands.launch", *where, "--num_processes", str(self.num_processes),
                    "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                    "-m", "resources.train_worker", str(job_path)]
        return [python, "-m", "resources.train_worker", str(job_path)]

    def train(self, context: dg.AssetExecutionContext, *, data_path: Path, base_model: str, out_dir: Path,
              params: dict, backbone: str, variant: str) -> TrainStats:
        """Train one adapter into ``out_dir`` (``RunArtifacts``); returns its stats (the metrics.json it wrote)."""
        # The subprocess runs in the package root: hand it absolute paths (a relative VVAE home
        # would otherwise resolve against the wrong folder). Hub ids stay as they are.
        data_path, out_dir = Path(data_path).resolve(), Path(out_dir).resolve()
        if Path(base_model).exists():
            base_model = str(Path(base_model).resolve())
        job = {"data_path": str(data_path), "base_model": base_model, "out_dir": str(out_dir), "params": params,
               "backbone": backbone, "variant": variant}
        run = RunArtifacts(out_dir)
        run.out_dir.mkdir(parents=True, exist_ok=True)
        job_path = run.job
        atomic_write_json(job_path, job)
        # A metrics.json left from an earlier run must not pass for this one's result.
        run.metrics.unlink(missing_ok=True)
        if not self.use_subprocess:
            from resources.train_worker import run

            return run(job, context.log.info)
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)}
        if self.torch_threads:
            env["OMP_NUM_THREADS"] = str(self.torch_threads)
        client = dg.PipesSubprocessClient(env=env, cwd=str(PACKAGE_ROOT))
        client.run(context=context, command=self.command(job_path), extras={"job": str(job_path)})
        return TrainStats.from_json(run.metrics.read_text())
