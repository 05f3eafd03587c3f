"""promoted_adapter: move the registry alias ``champion`` to the new SP+FT adapter when the benchmark
shows it is better.

The challenger is the newest registered version of ``vvae-<backbone>-sp_ft``, the champion the
version the alias points at. benchmark_report scored both in one run (same test prompts, same
decoding; the champion as system ``champion``), so the decision (vvae_pipeline.evaluate.promotion)
is read off that run's summary.json. The non-blocking WARN check ``challenger_promoted`` passes
when the alias moved and otherwise says why not.
"""

import json
import shutil
from pathlib import Path

import dagster as dg

from assets.automation import after_upstream
from assets.partitions import backbone_partitions
from resources.storage import StorageResource, atomic_write_json
from resources.tracking import MLflowResource, registered_model_name
from vvae_pipeline.evaluate.promotion import Decision, decide
from vvae_pipeline.storage_io import atomic_write_dir

PROMOTION_CHECK = "challenger_promoted"


def _fmt(s: dict | None) -> list[str]:
    if not s:
        return ["-", "-"]
    lo, hi = s["distance_ci"]
    acc = s.get("dialogbench_accuracy")
    return [f"{s['distance']:.3f} ({lo:.3f}-{hi:.3f})", "-" if acc is None else f"{acc:.1%}"]


def side_by_side(d: Decision) -> str:
    rows = [("challenger", d.challenger_version), ("champion", d.champion_version)]
    lines = ["| system | version | distance to human (95% CI) | DialogBench accuracy |", "|---|---|---|---|"]
    lines += [f"| {name} | {v or '-'} | " + " | ".join(_fmt(d.systems.get(name))) + " |" for name, v in rows]
    return "\n".join(lines)


def keep_champion_copy(storage: StorageResource, backbone: str, version, out: Path) -> dict:
    """A copy of the promoted adapter that the next training cannot overwrite, and ``champion.json``
    naming it: what ``python -m vvae_pipeline.serving --backbone <backbone>`` serves (docs/serving.md)."""
    src = storage.artifact_dir("lora_checkpoint", f"{backbone}|sp_ft") / "adapter"
    dest = out / "adapters" / f"v{version}"
    atomic_write_dir(dest, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
    info = {"adapter_path": str(dest), "registered_model": registered_model_name(backbone, "sp_ft"),
            "version": str(version), "backbone": backbone}
    atomic_write_json(out / "champion.json", info)
    return info


@dg.asset(partitions_def=backbone_partitions, group_name="benchmark", deps=["benchmark_report"],
          automation_condition=after_upstream(),
          check_specs=[dg.AssetCheckSpec(PROMOTION_CHECK, asset="promoted_adapter", blocking=False,
                                         description="The new SP+FT adapter became the champion (WARN when not, "
                                                     "with the reason).")],
          description="The registry alias `champion` of vvae-<backbone>-sp_ft: moved to the new SP+FT adapter "
                      "only when it is closer to the human rates beyond the paired 95% interval and its "
                      "DialogBench accuracy does not drop beyond noise.")
def promoted_adapter(context: dg.AssetExecutionContext, storage: StorageResource, mlflow: MLflowResource):
    backbone = context.partition_key
    summary = json.loads((storage.artifact_dir("benchmark_report", backbone) / "summary.json").read_text())
    tracker = mlflow.tracker(storage.root, context.log)
    challenger, champion = tracker.latest_version(backbone, "sp_ft"), tracker.champion(backbone)
    settings = summary.get("settings", {})
    scored = (settings.get("registry") or {}).get("sp_ft_run_id")
    c_version, k_version = challenger and challenger["version"], champion and champion["version"]
    if challenger and scored and challenger["run_id"] != scored:
        d = Decision(False, f"the benchmark scored sp_ft run {scored}, not the newest version {c_version} "
                            f"(run {challenger['run_id']}): re-run benchmark_report", c_version, k_version)
    else:
        d = decide(summary, c_version, k_version, settings.get("bootstrap_samples", 2000), settings.get("seed", 0))
    moved = bool(d.promote and tracker.set_champion(backbone, c_version))
    if d.promote and not moved:
        d.reason += "; but the registry alias could not be moved (see the warning)"
    now = c_version if moved else k_version
    out = storage.artifact_dir("promoted_adapter", backbone)
    if moved:
        keep_champion_copy(storage, backbone, now, out)
    atomic_write_json(out / "decision.json", {**d.as_dict(), "promoted": moved, "champion_now": now})
    context.log.info(("promoted: " if moved else "kept: ") + d.reason)
    table = side_by_side(d)
    meta = {"decision": ("promoted " if moved else "kept ") + d.reason, "promoted": moved,
            "registered_model": registered_model_name(backbone, "sp_ft"),
            "champion_version": now or "none", "challenger_version": c_version or "none",
            "previous_champion_version": k_version or "none", "systems": dg.MetadataValue.md(table),
            "champion_json": dg.MetadataValue.path(str(out / "champion.json")),
            "distance_difference": dg.MetadataValue.json(d.distance_difference or {}),
            "dialogbench_difference": dg.MetadataValue.json(d.dialogbench_difference or {})}
    return dg.MaterializeResult(metadata=meta, check_results=[dg.AssetCheckResult(
        check_name=PROMOTION_CHECK, passed=moved, severity=dg.AssetCheckSeverity.WARN,
        description=("promoted: " if moved else "not promoted: ") + d.reason,
        metadata={"systems": dg.MetadataValue.md(table), "champion_version": now or "none"})])


PROMOTION_ASSETS = [promoted_adapter]
