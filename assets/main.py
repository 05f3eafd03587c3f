"""The main job: the whole V-VAE DAG for one backbone on the embedded default, through Dagster.

    python -m assets.main                       # demo size (deploy/run_config/demo.yaml): FT, P+FT, SP+FT
    python -m assets.main --size tiny           # what the end-to-end test and CI run
    python -m assets.main --size reproduce      # every variant and baseline, >= 200 test prompts
    python -m assets.main --variants ft,sp_ft   # other SFT variants than the preset's

It lands the seeded demo data, registers the batch partition, then runs the four jobs in order
(batch -> priors -> train per variant -> report) on the Dagster instance under
$VVAE_HOME/dagster (or $DAGSTER_HOME), so every run and materialization shows in `dagster dev`.
Exits non-zero if a run fails or a blocking check does not pass.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vvae_pipeline.backbones import DEFAULT_BACKBONE, get_backbone
from vvae_pipeline.variants import VARIANT_KEYS, get_variant

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "deploy" / "run_config"
# Run presets: deploy/run_config/<size>.yaml. Config defaults are production values; a preset
# overrides what makes its size fit on 2 CPU cores (SmolLM2-135M, fp32).
SIZE_NAMES = ("demo", "tiny", "reproduce")


def load_preset(size: str) -> dict:
    """The preset ``size``: {"demo": generator kwargs, "variants": [...], "jobs": {job: run config}}."""
    import yaml

    if size not in SIZE_NAMES:
        raise ValueError(f"unknown size {size!r}; expected one of {SIZE_NAMES}")
    preset = yaml.safe_load((PRESETS / f"{size}.yaml").read_text(encoding="utf-8")) or {}
    unknown = set(preset) - {"demo", "variants", "jobs"}
    if unknown:
        raise ValueError(f"{size}.yaml: unknown keys {sorted(unknown)}")
    return {"demo": preset.get("demo", {}), "variants": preset.get("variants") or list(VARIANT_KEYS),
            "jobs": preset.get("jobs", {})}


@dataclass
class PipelineResult:
    home: Path
    dagster_home: Path
    batch_key: str
    runs: list[tuple[str, str, bool]] = field(default_factory=list)  # (job, partition, success)
    failed_checks: list[str] = field(default_factory=list)
    report_dir: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(ok for _, _, ok in self.runs) and not self.failed_checks


def _say(msg: str, t0: float) -> None:
    print(f"[vvae {time.time() - t0:6.1f}s] {msg}", flush=True)


def run_pipeline(home: Path, backbone: str = DEFAULT_BACKBONE, variants: tuple[str, ...] | None = None,
                 size: str = "demo", seed: int = 0) -> PipelineResult:
    import dagster as dg

    from assets.definitions import build_definitions
    from assets.partitions import BATCH_PARTITIONS_NAME, backbone_variant_key
    from resources.storage import StorageResource
    from vvae_pipeline.ingest.demo import write_demo
    from vvae_pipeline.ingest.landing import batch_key

    t0 = time.time()
    get_backbone(backbone)
    cfg = load_preset(size)
    variants = tuple(variants or cfg["variants"])
    for v in variants:
        get_variant(v)
    home = Path(home).resolve()
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    storage = StorageResource(home=str(home))

    path = storage.landing_dir / f"demo-{seed}.jsonl"
    if not path.exists():
        path, n = write_demo(storage.landing_dir, home / "demo" / "truth.parquet", seed=seed, **cfg["demo"])
        _say(f"landed {n} demo sessions at {path}", t0)
    key = batch_key(path)
    result = PipelineResult(home=home, dagster_home=dagster_home, batch_key=key)

    defs = build_definitions(home=home)
    instance = dg.DagsterInstance.get()
    if not instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, key):
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, [key])

    plan = [("batch_job", key), ("priors_job", None)]
    plan += [("train_job", backbone_variant_key(backbone, v)) for v in variants]
    plan += [("report_job", backbone)]
    for job_name, partition in plan:
        _say(f"running {job_name}" + (f" [{partition}]" if partition else ""), t0)
        job = defs.resolve_job_def(job_name)
        run_config = {**cfg["jobs"].get(job_name, {}), "loggers": {"console": {"config": {"log_level": "INFO"}}}}
        if job_name == "batch_job":  # the demo's truth: the encoder is scored on this batch only because we say so
            run_config["ops"] = {**run_config.get("ops", {}), "persona_extractions": {
                "config": {"truth_path": str(home / "demo" / "truth.parquet")}}}
        res = job.execute_in_process(instance=instance, partition_key=partition, run_config=run_config,
                                     raise_on_error=False)
        result.runs.append((job_name, str(partition or ""), res.success))
        for ev in res.all_events:
            if ev.event_type_value == "ASSET_CHECK_EVALUATION":
                data = ev.event_specific_data
                if not data.passed:
                    result.failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name}")
        _say(f"{job_name} {'succeeded' if res.success else 'FAILED'}", t0)
        if not res.success:
            break
    result.report_dir = storage.artifact_dir("benchmark_report", backbone)
    result.seconds = time.time() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--variants", default="", help="comma-separated SFT variants, or 'all' "
                        f"({','.join(VARIANT_KEYS)}); default: the size's preset")
    parser.add_argument("--size", choices=SIZE_NAMES, default="demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from resources.storage import vvae_home
    from vvae_pipeline.storage_io import atomic_write_json

    variants = VARIANT_KEYS if args.variants == "all" else tuple(v for v in args.variants.split(",") if v) or None
    result = run_pipeline(vvae_home(), args.backbone, variants, args.size, args.seed)
    # What ran, for scripts and the end-to-end test: jobs, partitions, success, failed checks.
    atomic_write_json(result.home / "main_result.json", {
        "runs": result.runs, "failed_checks": result.failed_checks, "seconds": round(result.seconds, 1),
        "variants": list(variants or load_preset(args.size)["variants"]), "size": args.size,
        "report_dir": str(result.report_dir), "dagster_home": str(result.dagster_home), "batch_key": result.batch_key})
    print()
    for job, part, ok in result.runs:
        print(f"  {'ok  ' if ok else 'FAIL'} {job} {part}")
    if result.failed_checks:
        print("  failed checks: " + ", ".join(result.failed_checks))
    print(f"\nwall time {result.seconds / 60:.1f} min; data under {result.home}")
    if result.ok:
        print(f"report: {result.report_dir / 'report.html'}  (and report.md)")
        print(f"browse it all: make dev  (Dagster UI at http://127.0.0.1:3000, instance {result.dagster_home})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
