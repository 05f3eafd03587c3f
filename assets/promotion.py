"""promoted_adapter: move the registry alias ``champion`` to the new SP+FT adapter when the benchmark
shows it is better.

The challenger is the newest registered version of ``vvae-<backbone>-sp_ft``, the champion the
version the alias points at. benchmark_report scored both in one run (same test prompts, same
decoding; the champion as system ``champion``), so the decision (vvae_pipeline.evaluate.promotion)
is read off that run's summary.json. The non-blocking WARN check ``challenger_promoted`` passes
when the alias moved and otherwise says why not.

Promotion is one transaction from the reader's view (serving reads champion.json, the benchmark the
registry alias): ``promotion_intent.json`` is written first (from, to, adapter copy), then the alias
moves, then champion.json is written, then the intent is removed. Every start of this asset first
reconciles: a leftover intent is rolled forward (the decision was made; the alias and champion.json
are set to its ``to``), and an alias that disagrees with champion.json without an intent (moved by
hand, or a crash under older code) rewrites champion.json to the alias's version from the kept copy or
the registry's artifact; what cannot be repaired is reported in the metadata and the log.
"""

import json
import shutil
from pathlib import Path

import dagster as dg

from assets.automation import after_upstream
from assets.partitions import backbone_partitions
from resources.storage import StorageResource, atomic_write_json
from resources.tracking import MLflowResource, registered_model_name
from vvae_pipeline.evaluate.promotion import CHALLENGER, decide_promotion, side_by_side
from vvae_pipeline.evaluate.systems import SP_FT
from vvae_pipeline.failpoints import failpoint
from vvae_pipeline.llm.serving import CHAMPION_FILE
from vvae_pipeline.storage_io import atomic_write_dir
from vvae_pipeline.train.artifacts import RunArtifacts

PROMOTION_CHECK = "challenger_promoted"


INTENT = "promotion_intent.json"


def champion_info(backbone: str, version, adapter: Path) -> dict:
    return {"adapter_path": str(adapter), "registered_model": registered_model_name(backbone, CHALLENGER),
            "version": str(version), "backbone": backbone}


def copy_adapter(storage: StorageResource, backbone: str, version, out: Path) -> Path:
    """A copy of the promoted adapter that the next training cannot overwrite."""
    src = RunArtifacts(storage.artifact_dir("lora_checkpoint", f"{backbone}|{SP_FT}")).adapter
    dest = out / "adapters" / f"v{version}"
    atomic_write_dir(dest, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))
    return dest


def write_champion_json(out: Path, info: dict) -> None:
    """What ``python -m vvae_pipeline.llm.serving --backbone <backbone>`` serves (docs/serving.md)."""
    atomic_write_json(out / CHAMPION_FILE, info)


def promote(storage: StorageResource, tracker, backbone: str, version, previous, out: Path) -> bool:
    """Intent, alias, champion.json, done: after a crash at any point ``reconcile`` finishes it."""
    info = champion_info(backbone, version, copy_adapter(storage, backbone, version, out))
    atomic_write_json(out / INTENT, {"from_version": previous, "to_version": str(version), "champion": info})
    if not tracker.set_champion(backbone, version):
        (out / INTENT).unlink(missing_ok=True)  # nothing moved: the old champion stands on both sides
        return False
    failpoint("promotion:alias_moved")  # the kill-and-rerun test's SIGKILL between alias and champion.json
    write_champion_json(out, info)
    (out / INTENT).unlink(missing_ok=True)
    return True


def _served_version(out: Path) -> str | None:
    try:
        return str(json.loads((out / CHAMPION_FILE).read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def reconcile(storage: StorageResource, tracker, backbone: str, out: Path) -> str | None:
    """Make champion.json and the registry alias agree before anything else reads them; what was done
    (or why it could not be), None when they already agree or there is nothing to compare."""
    intent_path = out / INTENT
    if intent_path.exists():
        intent = json.loads(intent_path.read_text())
        to = intent["to_version"]
        if not tracker.set_champion(backbone, to):
            return (f"an interrupted promotion to version {to} could not be finished (the registry alias did not "
                    f"move); champion.json still names version {_served_version(out)}. {intent_path} is kept")
        write_champion_json(out, intent["champion"])
        intent_path.unlink()
        return f"finished an interrupted promotion: registry alias and champion.json now name version {to}"
    champ = tracker.champion(backbone)
    served = _served_version(out)
    if not champ or champ["version"] == served:
        return None
    version = champ["version"]
    dest = out / "adapters" / f"v{version}"
    if not (dest / "adapter_config.json").is_file():
        fetched = tracker.download_adapter(champ["run_id"], out / "adapters" / f".fetch-v{version}")
        if not fetched or not (Path(fetched) / "adapter_config.json").is_file():
            return (f"champion.json names version {served} but the registry alias names {version}, whose adapter "
                    f"could not be fetched: serving and the registry disagree; move the alias or fix champion.json")
        atomic_write_dir(dest, lambda tmp: shutil.copytree(fetched, tmp, dirs_exist_ok=True))
        shutil.rmtree(out / "adapters" / f".fetch-v{version}", ignore_errors=True)
    write_champion_json(out, champion_info(backbone, version, dest))
    return f"champion.json named version {served}, the registry alias {version}: champion.json now follows the alias"


@dg.asset(partitions_def=backbone_partitions, group_name="benchmark", deps=["benchmark_report"],
          automation_condition=after_upstream(),
          check_specs=[dg.AssetCheckSpec(PROMOTION_CHECK, asset="promoted_adapter", blocking=False,
                                         description="The new SP+FT adapter became the champion (WARN when not, "
                                                     "with the reason).")],
          description="The registry alias `champion` of vvae-<backbone>-sp_ft: moved to the new SP+FT adapter "
                      "only when it is closer to the human rates beyond the paired 95% interval and its "
                      "DialogBench accuracy does not drop beyond noise.")
def promoted_adapter(context: dg.AssetExecutionContext, storage: StorageResource, mlflow: MLflowResource):
    # Imported here: evaluate.report pulls in the benchmark's modules, 2.2 s on top of what this file
    # imports (python -c, 2-core dev box), kept out of the definitions' load.
    from vvae_pipeline.evaluate.report import ReportFiles

    backbone = context.partition_key
    summary = ReportFiles(storage.artifact_dir("benchmark_report", backbone)).read_summary()
    tracker = mlflow.tracker(storage.root, context.log)
    out = storage.artifact_dir("promoted_adapter", backbone)
    repaired = reconcile(storage, tracker, backbone, out)
    if repaired:
        context.log.warning(f"promotion state: {repaired}")
    challenger, champion = tracker.latest_version(backbone, CHALLENGER), tracker.champion(backbone)
    d = decide_promotion(summary, challenger, champion, champion_repaired=bool(repaired))
    c_version, k_version = d.challenger_version, d.champion_version
    moved = bool(d.promote and promote(storage, tracker, backbone, c_version, k_version, out))
    if d.promote and not moved:
        d.reason += "; but the registry alias could not be moved (see the warning)"
    now = c_version if moved else k_version
    atomic_write_json(out / "decision.json", {**d.as_dict(), "promoted": moved, "champion_now": now})
    context.log.info(("promoted: " if moved else "kept: ") + d.reason)
    table = side_by_side(d)
    meta = {"decision": ("promoted " if moved else "kept ") + d.reason, "promoted": moved,
            "registered_model": registered_model_name(backbone, CHALLENGER),
            "champion_version": now or "none", "challenger_version": c_version or "none",
            "previous_champion_version": k_version or "none", "systems": dg.MetadataValue.md(table),
            "champion_json": dg.MetadataValue.path(str(out / CHAMPION_FILE)),
            "promotion_repair": repaired or "none",
            "distance_difference": dg.MetadataValue.json(d.distance_difference or {}),
            "dialogbench_difference": dg.MetadataValue.json(d.dialogbench_difference or {})}
    return dg.MaterializeResult(metadata=meta, check_results=[dg.AssetCheckResult(
        check_name=PROMOTION_CHECK, passed=moved, severity=dg.AssetCheckSeverity.WARN,
        description=("promoted: " if moved else "not promoted: ") + d.reason,
        metadata={"systems": dg.MetadataValue.md(table), "champion_version": now or "none"})])
