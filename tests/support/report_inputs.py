"""What benchmark_report reads, written by hand: every sft_dataset partition of one backbone, two
tiny real LoRA adapters with their metrics, the test_personas table; and stub assets for the
upstream keys so ``dg.materialize(..., selection=[benchmark_report])`` resolves its inputs."""

from __future__ import annotations

import dagster as dg

from assets.partitions import backbone_partitions, backbone_variant_partitions
from tests.support.benchmark_frames import make_adapter, make_test_rows, sft_frame
from tests.support.train_stats import make_stats
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.stats import LossPoint
from vvae_pipeline.variants import VARIANT_KEYS

BACKBONE = "smollm2-135m"
TRAINED = ("ft", "sp_ft")


@dg.asset(partitions_def=backbone_variant_partitions, name="sft_dataset")
def sft_stub():
    raise AssertionError("not selected: its partitions are written by the test")


@dg.asset(partitions_def=backbone_variant_partitions, name="lora_checkpoint")
def lora_stub():
    raise AssertionError("not selected: adapters are written by the test")


@dg.asset(partitions_def=backbone_partitions, name="test_personas")
def test_personas_stub():
    raise AssertionError("not selected: written by the test")


@dg.asset(name="declared_profiles")
def declared_profiles_stub():
    raise AssertionError("not selected: written by the test")


STUBS = [sft_stub, lora_stub, test_personas_stub, declared_profiles_stub]


def write_report_inputs(storage, base_path: str, trained=TRAINED, declared: dict | None = None) -> None:
    """sft_dataset for every variant (the io_manager loads them through the by-backbone mapping),
    an adapter + TrainStats per ``trained`` variant (RunArtifacts' files), test_personas with one catchphrase z, and
    declared_profiles from ``declared`` ({agent: {dimension: value}}; none by default)."""
    import polars as pl

    from vvae_pipeline.encode.profiles import DECLARED_COLUMNS

    rows = [{"agent_id": a, "dimension": d, "value": v, "n_declaring": 1, "n_sessions": 1}
            for a, p in (declared or {}).items() for d, v in p.items()]
    path = storage.table_path("declared_profiles")
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=DECLARED_COLUMNS).write_parquet(path)
    df = sft_frame(variants=VARIANT_KEYS)
    for variant, part in df.partition_by("variant", as_dict=True).items():
        path = storage.table_path("sft_dataset", f"{BACKBONE}|{variant[0]}")
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_parquet(path)
    for i, variant in enumerate(trained):
        run = RunArtifacts(storage.artifact_dir("lora_checkpoint", f"{BACKBONE}|{variant}"))
        make_adapter(base_path, run.adapter, seed=i)
        stats = make_stats([2.0 - 0.2 * s - 0.1 * i for s in range(1, 5)], backbone=BACKBONE, variant=variant,
                           base_model=base_path, final_eval_loss=1.7 - 0.1 * i, real_tokens=1234, seconds=12.5,
                           eval_loss=[LossPoint(2, 1.9 - 0.1 * i), LossPoint(4, 1.7 - 0.1 * i)])
        run.metrics.write_text(stats.to_json())
    test_path = storage.table_path("test_personas", BACKBONE)
    test_path.parent.mkdir(parents=True, exist_ok=True)
    make_test_rows(df, {"x0": {"catchphrase": "no worries at all"}}).write_parquet(test_path)
