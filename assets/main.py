"""The main job: the whole V-VAE DAG for one backbone on the embedded default, through Dagster.

    python -m assets.main                       # demo size (deploy/run_config/demo.yaml): FT, P+FT, SP+FT
    python -m assets.main --size tiny           # what the end-to-end test and CI run
    python -m assets.main --size reproduce      # every variant and baseline, >= 200 test prompts
    python -m assets.main --variants ft,sp_ft   # other SFT variants than the preset's
    python -m assets.main --data FILE_OR_DIR    # your own landing files (docs/landing.md), no demo data
    python -m assets.main --persona-source context    # headline protocol: z inferred from the context

By default it lands the seeded demo data (``landing/demo-<size>-<seed>.jsonl``); with ``--data`` it
lands the given JSON Lines / Parquet session files instead (a folder: every such file in it) and
scores nothing against demo truth. It registers one batch partition per landed file, then runs the
four jobs in order (batch per file -> priors -> train per variant -> report) on the Dagster instance
under $VVAE_HOME/dagster (or $DAGSTER_HOME), so every run and materialization shows in `dagster dev`.

Exits non-zero when a run fails or a blocking check fails with ERROR severity. A failed WARN check
(the champion kept, the prior drifted) is printed as a warning with what it means and does not fail
the job. A home holds one data set: the demo of one size and seed, or your own files; the priors and
SFT sets read every batch of the home, so mixing them is refused (use another VVAE_HOME).

Run again, it reuses what is done (assets/rerun.py): a batch already materialized is not ingested or
encoded again (``--recompute`` redoes it), cached extractions and finished adapters are reloaded, and
the summary says per step what was reused and what recomputed. It holds the home's lock for its
whole run and refuses (exit 3) while another main job or a run launched elsewhere writes the home.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vvae_pipeline.backbones import DEFAULT_BACKBONE, get_backbone
from vvae_pipeline.evaluate.deployment_persona import PERSONA_SOURCES
from vvae_pipeline.variants import (
    VARIANT_GROUPS,
    VARIANT_KEYS,
    expand_variants,
    get_variant,
)

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "deploy" / "run_config"
# Run presets: deploy/run_config/<size>.yaml. Config defaults are production values; a preset
# overrides what makes its size fit on 2 CPU cores (SmolLM2-135M, fp32).
SIZE_NAMES = ("demo", "tiny", "reproduce")
GROUPS_HELP = ", ".join(f"{g}: {'+'.join(k)}" for g, k in VARIANT_GROUPS.items() if g != "all")


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


@dataclass(frozen=True)
class CheckOutcome:
    """One asset check evaluation, as the exit decision needs it (no metadata values: they may hold text)."""

    name: str  # "<asset>:<check>"
    passed: bool
    severity: str  # "ERROR" or "WARN" (dagster.AssetCheckSeverity.value)
    blocking: bool
    note: str = ""  # the check's own description of this evaluation, for known WARN checks only


# What a failed WARN check means for the person reading the main job's output.
WARN_MEANING = {
    "promoted_adapter:challenger_promoted": "champion kept: the new SP+FT adapter is not closer to the human "
                                            "rates beyond the paired 95% interval (or its DialogBench accuracy "
                                            "dropped beyond noise); the registry alias stays where it was",
    "persona_priors:prior_drift": "the prior moved against its previous materialization (expected when the "
                                  "data changed): the new adapters learn from a different persona distribution",
}


# The persona garbage checks (vvae_pipeline.encode.garbage), WARN unless VVAE_PERSONA_CHECKS=block, by
# check name on persona_extractions and persona_priors alike.
GARBAGE_MEANING = {
    "top_value_share": "one value dominates a closed dimension: the encoder may be answering the same for everyone",
    "function_word_share": "catchphrase/nickname/topic values are often function words, not persona",
    "grounding_rate": "extracted values are often not found in the agent's own text",
    "declared_agreement": "the encoder misses declared profile values that the replies show",
}


def warn_meaning(name: str) -> str:
    return WARN_MEANING.get(name) or GARBAGE_MEANING.get(name.rsplit(":", 1)[-1]) or (
        "failed without stopping the run; its metadata in the UI says why")


@dataclass(frozen=True)
class ExitDecision:
    ok: bool
    errors: list[str]  # failed runs and failed blocking ERROR checks
    warnings: list[str]  # failed checks that do not fail the job, with their meaning


def exit_decision(runs: list[tuple[str, str, bool]], checks: list[CheckOutcome]) -> ExitDecision:
    """The job fails on a failed run or a failed blocking check of ERROR severity, nothing else."""
    errors = [f"run {job}{f' [{part}]' if part else ''} failed" for job, part, ok in runs if not ok]
    warnings = []
    for c in checks:
        if c.passed:
            continue
        if c.blocking and c.severity == "ERROR":
            errors.append(f"check {c.name} failed")
        else:
            meaning = warn_meaning(c.name)
            warnings.append(f"{c.name} ({c.severity}): {meaning}" + (f" [{c.note}]" if c.note else ""))
    return ExitDecision(ok=bool(runs) and not errors, errors=errors, warnings=warnings)


def check_outcome(data) -> CheckOutcome:
    """A dagster AssetCheckEvaluation as a CheckOutcome. The note is kept only for the WARN checks
    named in WARN_MEANING, whose descriptions and messages carry reasons and dimension names, never
    record text (a schema check's description may show cases)."""
    name = f"{data.asset_key.to_user_string()}:{data.check_name}"
    severity = getattr(data.severity, "value", str(data.severity or "ERROR"))
    note = ""
    if name in WARN_MEANING:
        msg = (data.metadata or {}).get("message")
        note = data.description or (str(msg.value) if msg is not None else "")
    # dagster fills ``blocking`` from the check's spec; None (older events) counts as blocking.
    return CheckOutcome(name, bool(data.passed), severity, data.blocking is not False, note)


@dataclass
class PipelineResult:
    home: Path
    dagster_home: Path
    batch_keys: list[str]
    runs: list[tuple[str, str, bool]] = field(default_factory=list)  # (job, partition, success)
    checks: list[CheckOutcome] = field(default_factory=list)
    report_dir: Path | None = None
    seconds: float = 0.0
    reused_batches: list[str] = field(default_factory=list)  # batch keys skipped: already materialized
    work: list = field(default_factory=list)  # assets.rerun.StepWork per step that reports its reuse

    @property
    def decision(self) -> ExitDecision:
        return exit_decision(self.runs, self.checks)

    @property
    def ok(self) -> bool:
        return self.decision.ok

    @property
    def failed_checks(self) -> list[str]:
        """Failed checks that fail the job (blocking, ERROR)."""
        return [c.name for c in self.checks if not c.passed and c.blocking and c.severity == "ERROR"]

    @property
    def batch_key(self) -> str:
        return self.batch_keys[0] if self.batch_keys else ""


class HomeConflict(RuntimeError):
    """VVAE_HOME already holds data this run must not mix with."""


DEMO_NAME = re.compile(r"^demo(-[a-z]+)?-\d+\.jsonl$")


def demo_file_name(size: str, seed: int) -> str:
    return f"demo-{size}-{seed}.jsonl"


def _landed(landing_dir: Path) -> list[Path]:
    from vvae_pipeline.ingest.landing import is_landed_file

    return sorted(p for p in Path(landing_dir).glob("*") if is_landed_file(p))


def land_demo(landing_dir: Path, truth_path: Path, size: str, seed: int, demo_kwargs: dict) -> tuple[Path, bool]:
    """The demo file of (size, seed) in ``landing_dir``: (path, newly written).

    Refuses (HomeConflict) when the folder holds any other landed file: the demo's session ids repeat
    across sizes (demo-0-00-000 in every size of seed 0), so two sizes in one home would load the same
    extraction ids twice, and any other file would mix into the demo's priors. A file with exactly
    this demo's content is reused whatever its name (homes from before the per-size names hold
    ``demo-<seed>.jsonl``). The truth table is always rewritten (seeded, ~0.4 s).
    """
    from vvae_pipeline.ingest.demo import generate_demo
    from vvae_pipeline.storage_io import atomic_write_bytes, atomic_write_parquet

    sessions, truth = generate_demo(seed=seed, **demo_kwargs)
    data = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in sessions).encode()
    ours, others = None, []
    for p in _landed(landing_dir):
        if ours is None and p.suffix == ".jsonl" and p.stat().st_size == len(data) and p.read_bytes() == data:
            ours = p
        else:
            others.append(p.name)
    if demo_file_name(size, seed) in others:
        raise HomeConflict(f"{landing_dir / demo_file_name(size, seed)} differs from what this version of the demo "
                           f"generator writes for the {size} demo (seed {seed}); it came from an earlier version. "
                           f"Use another home, e.g. VVAE_HOME=.vvae-{size}-new, or remove {landing_dir.parent}")
    if others:
        what = "demo data of another size or seed" if all(DEMO_NAME.match(n) for n in others) else "other landed data"
        raise HomeConflict(f"{landing_dir} holds {what} ({', '.join(others[:5])}); the {size} demo (seed {seed}) "
                           f"would be mixed with it. Use another home, e.g. VVAE_HOME=.vvae-{size}")
    atomic_write_parquet(Path(truth_path), truth)
    if ours is not None:
        return ours, False
    path = Path(landing_dir) / demo_file_name(size, seed)
    atomic_write_bytes(path, data)
    return path, True


def data_files(data: Path) -> list[Path]:
    """The landing files ``data`` names: itself, or every landing file directly in the folder."""
    from vvae_pipeline.ingest.landing import LANDED_SUFFIXES, is_landed_file

    data = Path(data)
    if data.is_dir():
        files = sorted(p for p in data.iterdir() if is_landed_file(p))
        if not files:
            raise FileNotFoundError(f"{data} holds no landing files ({', '.join(LANDED_SUFFIXES)})")
        return files
    if not is_landed_file(data):
        raise FileNotFoundError(f"{data} is not a landing file ({', '.join(LANDED_SUFFIXES)})")
    return [data]


def land_data(landing_dir: Path, files: list[Path]) -> list[tuple[Path, bool]]:
    """Copy ``files`` into the landing folder (atomically, same names): [(landed path, newly written)].

    Refuses when the home holds demo data, or a landed file of the same name with other content
    (its batch would stay registered next to the new one; land corrections under a new name).
    """
    from vvae_pipeline.storage_io import atomic_write_bytes

    landed = {p.name: p for p in _landed(landing_dir)}
    demo = sorted(n for n in landed if DEMO_NAME.match(n))
    if demo:
        raise HomeConflict(f"{landing_dir} holds demo data ({', '.join(demo)}); --data runs on your data only. "
                           "Use another home, e.g. VVAE_HOME=.vvae-data")
    out = []
    for src in files:
        data = src.read_bytes()
        dest = Path(landing_dir) / src.name
        if src.name in landed:
            if landed[src.name].read_bytes() != data:
                raise HomeConflict(f"{dest} exists with other content; land the new version under another name")
            out.append((dest, False))
            continue
        atomic_write_bytes(dest, data)
        out.append((dest, True))
    return out


def preset_persona_source(cfg: dict) -> str:
    """The headline's test-time persona protocol the preset sets (benchmark_report config
    ``headline_protocol``), else the config default."""
    from assets.report import ReportConfig

    ops = cfg["jobs"].get("report_job", {}).get("ops", {})
    return ops.get("benchmark_report", {}).get("config", {}).get(
        "headline_protocol", ReportConfig.model_fields["headline_protocol"].default)


def _with_op_config(run_config: dict, op: str, **values) -> dict:
    ops = dict(run_config.get("ops", {}))
    entry = dict(ops.get(op, {}))
    entry["config"] = {**entry.get("config", {}), **values}
    ops[op] = entry
    return {**run_config, "ops": ops}


def _say(msg: str, t0: float) -> None:
    print(f"[vvae {time.time() - t0:6.1f}s] {msg}", flush=True)


def run_pipeline(home: Path, backbone: str = DEFAULT_BACKBONE, variants: tuple[str, ...] | None = None,
                 size: str = "demo", seed: int = 0, data: Path | None = None,
                 persona_source: str | None = None, recompute: bool = False) -> PipelineResult:
    """Land -> register the batches -> plan the jobs -> run them in order, stopping at the first failure."""
    import dagster as dg

    from assets.definitions import build_definitions
    from assets.rerun import settle_in_flight_runs
    from resources.storage import StorageResource

    t0 = time.time()
    get_backbone(backbone)
    cfg = load_preset(size)
    variants = tuple(variants or cfg["variants"])
    for v in variants:
        get_variant(v)
    persona_source = persona_source or preset_persona_source(cfg)
    home = Path(home).resolve()
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    storage = StorageResource(home=str(home))
    instance = dg.DagsterInstance.get()
    # Before anything is written: runs from elsewhere (sensor, UI) in flight raise RunsInFlight; runs
    # of a killed main job are marked failed.
    dead = settle_in_flight_runs(instance)
    if dead:
        _say(f"marked {len(dead)} run(s) of an earlier, killed main job failed ({', '.join(r[:8] for r in dead)})", t0)

    # One demo per home (land_demo refuses another), so its truth has one fixed place.
    truth = home / "demo" / "truth.parquet"
    keys = _land(storage, truth, size, seed, cfg, data, t0)
    result = PipelineResult(home=home, dagster_home=dagster_home, batch_keys=keys)
    done = _register_batches(instance, keys, recompute, t0)
    result.reused_batches += [k for k in keys if k in done]
    defs = build_definitions(home=home)
    for job_name, partition in _job_plan(keys, done, backbone, variants):
        run_config = _run_config(cfg, job_name, truth if data is None else None, persona_source)
        if not _execute(defs, instance, job_name, partition, run_config, result, t0):
            break
    result.report_dir = storage.artifact_dir("benchmark_report", backbone)
    result.seconds = time.time() - t0
    return result


def _land(storage, truth: Path, size: str, seed: int, cfg: dict, data: Path | None, t0: float) -> list[str]:
    """The demo (data None) or the given files into the landing folder; their batch keys."""
    from vvae_pipeline.ingest.landing import batch_key

    if data is None:
        path, new = land_demo(storage.landing_dir, truth, size, seed, cfg["demo"])
        if new:
            _say(f"landed the {size} demo (seed {seed}) at {path}", t0)
        return [batch_key(path)]
    keys = []
    for path, new in land_data(storage.landing_dir, data_files(Path(data))):
        keys.append(batch_key(path))
        _say(f"{'landed' if new else 'already landed'} {path}", t0)
    return keys


def _register_batches(instance, keys: list[str], recompute: bool, t0: float) -> dict[str, str]:
    """Adds the batches' partitions; returns those already ingested, scrubbed and encoded (reused,
    the sensor's test) unless ``recompute``, with what says so."""
    from assets.partitions import BATCH_PARTITIONS_NAME
    from assets.sensors import done_batches

    new_keys = [k for k in keys if not instance.has_dynamic_partition(BATCH_PARTITIONS_NAME, k)]
    if new_keys:
        instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, new_keys)
    others = sorted(set(instance.get_dynamic_partitions(BATCH_PARTITIONS_NAME)) - set(keys))
    if others:
        _say(f"{len(others)} earlier batch(es) of this home feed the priors and SFT sets too", t0)
    done = {} if recompute else done_batches(instance, keys)
    for key in keys:
        if key in done:
            _say(f"reused batch {key}: {done[key]} (--recompute to ingest, scrub and encode it again)", t0)
    return done


def _job_plan(keys: list[str], done: dict, backbone: str, variants: tuple[str, ...]) -> list[tuple[str, str | None]]:
    from assets.partitions import backbone_variant_key

    plan = [("batch_job", k) for k in keys if k not in done] + [("priors_job", None)]
    plan += [("train_job", backbone_variant_key(backbone, v)) for v in variants]
    return plan + [("report_job", backbone)]


def _run_config(cfg: dict, job_name: str, truth: Path | None, persona_source: str) -> dict:
    run_config = {**cfg["jobs"].get(job_name, {}), "loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if job_name == "batch_job" and truth is not None:
        # The demo's truth: the encoder is scored on this batch only because we say so.
        run_config = _with_op_config(run_config, "persona_extractions", truth_path=str(truth))
    if job_name == "report_job":
        run_config = _with_op_config(run_config, "benchmark_report", headline_protocol=persona_source)
    return run_config


def _execute(defs, instance, job_name: str, partition: str | None, run_config: dict, result: PipelineResult,
             t0: float) -> bool:
    """One job in process, tagged as the main job's; its run, checks and work go into ``result``."""
    from assets.rerun import MAIN_JOB_TAG, materialization_work

    _say(f"running {job_name}" + (f" [{partition}]" if partition else ""), t0)
    res = defs.resolve_job_def(job_name).execute_in_process(instance=instance, partition_key=partition,
                                                            run_config=run_config, raise_on_error=False,
                                                            tags={MAIN_JOB_TAG: "1"})
    result.runs.append((job_name, str(partition or ""), res.success))
    result.checks += [check_outcome(ev.event_specific_data) for ev in res.all_events
                      if ev.event_type_value == "ASSET_CHECK_EVALUATION"]
    for work in materialization_work(res.all_events):
        result.work.append(work)
        _say(f"  {work.asset} [{work.partition}]: {work.text}", t0)
    _say(f"{job_name} {'succeeded' if res.success else 'FAILED'}", t0)
    return res.success


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE)
    parser.add_argument("--variants", default="", help="comma-separated SFT variants and groups "
                        f"({GROUPS_HELP}; "
                        "all: every variant); default: the size's preset")
    parser.add_argument("--size", choices=SIZE_NAMES, default="demo",
                        help="run preset (deploy/run_config/<size>.yaml); with --data only its job settings apply")
    parser.add_argument("--seed", type=int, default=0, help="demo data seed (ignored with --data)")
    parser.add_argument("--data", type=Path, default=None, metavar="FILE_OR_DIR",
                        help="land these JSON Lines/Parquet session files (docs/landing.md; a folder: every such "
                             "file in it) instead of the demo data, e.g. from python -m vvae_pipeline.ingest.adapters")
    parser.add_argument("--recompute", action="store_true",
                        help="ingest, scrub and encode every landed batch again, even those already materialized")
    parser.add_argument("--persona-source", choices=PERSONA_SOURCES, default=None,
                        help="the headline's test-time persona: 'declared' (the agent's declared profile, the paper's "
                             "protocol, where the data has one) or 'context' (inferred from the context); both are "
                             "reported whenever the data declares profiles; default: the preset's, else declared")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from resources.storage import vvae_home

    variants = expand_variants(args.variants) or None
    from assets.rerun import RunsInFlight
    from resources.home_lock import HomeBusy, home_lock

    try:
        # One writer per home: a second main job fails here at once, naming the holder's pid.
        with home_lock(vvae_home()):
            result = run_pipeline(vvae_home(), args.backbone, variants, args.size, args.seed, data=args.data,
                                  persona_source=args.persona_source, recompute=args.recompute)
    except (HomeBusy, RunsInFlight) as exc:
        print(f"vvae: {exc}", file=sys.stderr)
        return 3
    except (HomeConflict, FileNotFoundError) as exc:
        print(f"vvae: {exc}", file=sys.stderr)
        return 2
    notes = report_notes(result.report_dir)
    _write_result(result, variants or tuple(load_preset(args.size)["variants"]), args, notes)
    _print_summary(result, notes)
    return 0 if result.decision.ok else 1


def _write_result(result: PipelineResult, variants: tuple[str, ...], args: argparse.Namespace,
                  notes: list[str]) -> None:
    """What ran, for scripts and the end-to-end test: jobs, partitions, success, failed checks."""
    from vvae_pipeline.storage_io import atomic_write_json

    atomic_write_json(result.home / "main_result.json", {
        "runs": result.runs, "failed_checks": result.failed_checks, "warnings": result.decision.warnings,
        "notes": notes,
        "checks": [[c.name, c.passed, c.severity] for c in result.checks],
        "seconds": round(result.seconds, 1), "variants": list(variants),
        "size": args.size, "data": str(args.data) if args.data else None,
        "report_dir": str(result.report_dir), "dagster_home": str(result.dagster_home),
        "batch_key": result.batch_key, "batch_keys": result.batch_keys, "reused_batches": result.reused_batches,
        "work": [[w.asset, w.partition, w.reused, w.text] for w in result.work]})


def report_notes(report_dir: Path | None) -> list[str]:
    """What the report left out that a reader of the main job's output should know: DialogBench
    skipped (no corpora folder beside the checkout, none in VVAE_CORPORA_DIR)."""
    from vvae_pipeline.evaluate.report import ReportFiles

    files = ReportFiles(report_dir) if report_dir else None
    if files is None or not files.summary.exists():
        return []
    summary = files.read_summary()
    if summary.get("dialogbench") or not summary.get("dialogbench_note"):
        return []
    return [f"DialogBench skipped: {summary['dialogbench_note']}. Set VVAE_CORPORA_DIR to a folder holding the "
            "public corpora (DailyDialog, LCCC, CPED) to run it."]


def _print_summary(result: PipelineResult, notes: list[str]) -> None:
    decision = result.decision
    print()
    for key in result.reused_batches:
        print(f"  reused batch_job {key} (already materialized)")
    for job, part, ok in result.runs:
        print(f"  {'ok  ' if ok else 'FAIL'} {job} {part}")
    for w in result.work:
        print(f"    {'reused    ' if w.reused else 'recomputed'} {w.asset} [{w.partition}]: {w.text}")
    for e in decision.errors:
        print(f"  error: {e}")
    for w in decision.warnings:
        print(f"  warning: {w}")
    for n in notes:
        print(f"  note: {n}")
    print(f"\nwall time {result.seconds / 60:.1f} min; data under {result.home}")
    if decision.ok:
        print(f"report: {result.report_dir / 'report.html'}  (and report.md)")
        print(f"browse it all: make dev  (Dagster UI at http://127.0.0.1:3000, instance {result.dagster_home})")

if __name__ == "__main__":
    sys.exit(main())
