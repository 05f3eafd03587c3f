"""On a lent GPU machine: stage the kit's parcels, then run the LoRA training bench and the e2e test,
with every number and log in one output folder. Standard library only until the kit is unpacked.

    python3 bench/gpu_run.py                # what each device call runs (see the order below)
    python3 bench/gpu_run.py --phases stage # only move this call's parcel into the stage folder

Each device call carries one parcel folder of the kit (scripts/gpu_kit.py build: .gpu-kit/p1 ..
pN) and runs this script, which does what the parcels held so far allow:
  stage   verify the carried parcel's chunks (sha256, manifest.json) and move them out of the
          checkout into --stage (default /root/vvae-kit), which lasts while the machine stays warm
  unpack  an archive whose chunks are all staged is unpacked into <stage>/site once
  check   the device, the versions, every requirement of pyproject.toml met from the image and the
          kit, and the code location importing under VVAE_PROFILE=gpu
  bench   bench/bench_train.py (trl's SFTTrainer defaults vs our trainer, 7B-shaped, random
          weights) once the `train` archive is unpacked (p1 holds it); its result is kept in the
          stage folder so later calls report it without running it again
  e2e     tests/e2e/test_pipeline.py (the main job at size tiny, FT, P+FT and SP+FT) with
          VVAE_PROFILE=gpu and the transformers engine on CUDA for the encoder and the benchmark
So call 1 (p1) runs the bench; calls 2..N-1 stage; call N stages the last parcel and runs the e2e.
Results: <out>/gpu_run.json (everything: the goals checked, the seconds of every Dagster run and
step of the e2e), bench_train.json/.log, e2e.log, e2e_junit.xml. --budget (s, default 450) bounds
one call's work: a phase is started only when the time it needs is left. --cpu-rehearsal runs the
same phases on CPU (bench --tiny, the e2e under VVAE_PROFILE=local): scripts/gpu_kit.py dry-run
uses it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Goals of the training bench (a lent H100/H200): real tokens/s at least 5x trl's defaults, at least
# 35% MFU, and the mean loss of the two trainers (same examples, same steps) within 1% of each other.
GOAL_SPEEDUP, GOAL_MFU, LOSS_TOLERANCE = 5.0, 0.35, 0.01
# Seconds a phase needs (an H100 run of the 7B bench is ~3 min: model build, 2 x 23 steps).
NEEDS = {"bench": 200, "e2e": 150}


class Clock:
    def __init__(self, budget: float):
        self.start, self.budget = time.monotonic(), budget

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start)


def sha256_file(path: Path) -> str:
    # vvae_pipeline.hashing's twin: this runs before any package of the kit is there (no numpy, polars).
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_manifest(kit: Path, stage: Path) -> dict | None:
    """The manifest of the parcels carried now, else the one staged earlier; a different kit staged
    earlier is cleared (its chunks cannot be mixed with these)."""
    carried = sorted(kit.glob("p*/manifest.json"))
    staged = stage / "manifest.json"
    if not carried:
        return json.loads(staged.read_text()) if staged.exists() else None
    manifest = json.loads(carried[0].read_text())
    if staged.exists() and json.loads(staged.read_text())["kit_id"] != manifest["kit_id"]:
        print(f"stage: another kit was staged in {stage}: clearing it")
        shutil.rmtree(stage)
    (stage / "chunks").mkdir(parents=True, exist_ok=True)
    staged.write_text(json.dumps(manifest))
    return manifest


def stage_parcels(kit: Path, stage: Path, manifest: dict, keep: bool = False) -> dict:
    """Move (``keep``: copy) the carried chunks into the stage folder after checking them."""
    moved, bad = [], []
    for archive in manifest["archives"]:
        for chunk in archive["chunks"]:
            src = kit / chunk["parcel"] / chunk["file"]
            if not src.exists():
                continue
            if src.stat().st_size != chunk["bytes"] or sha256_file(src) != chunk["sha256"]:
                bad.append(chunk["file"])
                continue
            (shutil.copyfile if keep else shutil.move)(str(src), stage / "chunks" / chunk["file"])
            moved.append(chunk["file"])
    held = {c["parcel"] for a in manifest["archives"] for c in a["chunks"] if (stage / "chunks" / c["file"]).exists()}
    missing = [p for p in manifest["parcels"] if p not in held]
    if bad:
        raise SystemExit(f"stage: {', '.join(bad)} differ from the manifest (size or sha256): build the kit again")
    return {"moved": moved, "held": sorted(held), "missing": missing}


class _Chunks:
    """The chunks of one archive read back to back as one stream, hashed on the way."""

    def __init__(self, paths: list[Path]):
        self.paths, self.f, self.h = list(paths), None, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        out = b""
        while (n < 0 or len(out) < n) and (self.f or self.paths):
            if self.f is None:
                self.f = self.paths.pop(0).open("rb")
            block = self.f.read(-1 if n < 0 else n - len(out))
            if not block:
                self.f.close()
                self.f = None
                continue
            out += block
        self.h.update(out)
        return out


def unpack(stage: Path, manifest: dict) -> dict:
    """Unpack every archive whose chunks are all staged and that is not unpacked yet."""
    site, status = stage / "site", {}
    site.mkdir(exist_ok=True)
    for archive in manifest["archives"]:
        done = site / f".unpacked-{archive['name']}-{manifest['kit_id']}"
        paths = [stage / "chunks" / c["file"] for c in archive["chunks"]]
        if done.exists():
            status[archive["name"]] = "unpacked earlier"
        elif not all(p.exists() for p in paths):
            wanted = sorted({c["parcel"] for c, p in zip(archive["chunks"], paths) if not p.exists()})
            status[archive["name"]] = f"waiting for {', '.join(wanted)}"
        else:
            t = time.monotonic()
            stream = _Chunks(paths)
            with tarfile.open(fileobj=stream, mode="r|xz") as tar:
                tar.extractall(site, filter="data")
            while stream.read(1 << 20):  # the tail past tar's end-of-archive blocks, for the hash
                pass
            if stream.h.hexdigest() != archive["sha256"]:
                raise SystemExit(f"unpack: {archive['name']} does not match its sha256: build the kit again")
            done.touch()
            status[archive["name"]] = f"unpacked in {time.monotonic() - t:.0f} s"
    return status


def unpacked(stage: Path, manifest: dict, name: str) -> bool:
    return (stage / "site" / f".unpacked-{name}-{manifest['kit_id']}").exists()


def kit_env(stage: Path, **extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stage / "site"), str(REPO)]), "PYTHONUNBUFFERED": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update(extra)
    return env


CHECK = r'''
import json, os, sys, tomllib
from importlib import metadata
from packaging.requirements import Requirement
out = {"python": sys.version.split()[0]}
try:
    import torch
    out["torch"] = torch.__version__
    out["cuda"] = torch.version.cuda
    out["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
except Exception as e:
    out["torch_error"] = repr(e)
for name in ("transformers", "trl", "peft", "accelerate", "datasets", "liger_kernel", "dagster", "polars",
             "numpy", "huggingface_hub", "tokenizers", "mlflow"):
    try:
        out[name] = metadata.version(name.replace("_", "-"))
    except metadata.PackageNotFoundError:
        out[name] = None
if os.environ.get("VVAE_CHECK_FULL") != "1":  # only the train archive so far
    out["unmet_requirements"] = []
    print("CHECK " + json.dumps(out))
    sys.exit(0)
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
roots = [*project["dependencies"], *project["optional-dependencies"]["train"], *project["optional-dependencies"]["gpu"]]
unmet, seen, stack = [], set(), [(Requirement(r), "pyproject.toml") for r in roots]
env = {"extra": ""}
while stack:
    req, parent = stack.pop()
    if req.marker is not None and not req.marker.evaluate(env):
        continue
    try:
        dist = metadata.distribution(req.name)
    except metadata.PackageNotFoundError:
        unmet.append(f"{req} ({parent}): missing")
        continue
    if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
        unmet.append(f"{req} ({parent}): {dist.version}")
    if req.name.lower() in seen:
        continue
    seen.add(req.name.lower())
    stack.extend((Requirement(r), req.name) for r in dist.requires or []
                 if not (Requirement(r).marker and "extra" in str(Requirement(r).marker)))
# torch: the image's build drives its GPU; our pin names the CPU/PyPI build we test with elsewhere.
out["unmet_requirements"] = sorted(u for u in unmet if not u.startswith("torch"))
out["torch_pin"] = [u for u in unmet if u.startswith("torch")]
os.environ.setdefault("VVAE_PROFILE", "gpu")
import assets.definitions as d
out["code_location"] = {"profile": os.environ["VVAE_PROFILE"], "jobs": sorted(j.name for j in d.defs.jobs),
                        "generator": d.defs.resources["generator"].engine,
                        "encoder": d.defs.resources["encoder"].engine}
print("CHECK " + json.dumps(out))
'''


def check(stage: Path, profile_env: dict, full: bool, left_out: list[str]) -> dict:
    """Device and versions; with the whole kit (``full``) the requirements and the code location too.

    A requirement that no package meets fails the check, unless the kit leaves it out on purpose
    (``left_out``: the UI and server stacks). One met at a version outside its specifier (an image
    package our pins exclude, whose version the image list does not give) is reported, not failed:
    the e2e shows whether it matters."""
    env = kit_env(stage, **profile_env, VVAE_CHECK_FULL="1" if full else "0")
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("CHECK ")), None)
    if proc.returncode or line is None:
        return {"ok": False, "error": (proc.stderr or proc.stdout)[-3000:]}
    res = json.loads(line[6:])
    res.update(classify(res.pop("unmet_requirements"), left_out))
    res["ok"] = not res["missing"]
    return res


def classify(unmet: list[str], left_out: list[str]) -> dict[str, list[str]]:
    """Unmet requirements ("<requirement> (<needed by>): <found version or missing>") by kind."""
    missing = [u for u in unmet if u.endswith(": missing")]
    return {"left_out": [u for u in missing if _req_name(u) in left_out],
            "missing": [u for u in missing if _req_name(u) not in left_out],
            "version_conflicts": [u for u in unmet if not u.endswith(": missing")]}


def _req_name(unmet: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", unmet).group(0)).lower()


def run_logged(cmd: list[str], log: Path, env: dict, timeout: float) -> tuple[int, float]:
    t = time.monotonic()
    with log.open("w") as f:
        try:
            rc = subprocess.run(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            f.write(f"\n[gpu_run] stopped at its time limit ({timeout:.0f} s)\n")
            rc = 124
    return rc, round(time.monotonic() - t, 1)


def not_started(clock: Clock, phase: str) -> dict:
    return {"status": "not started", "reason": f"{clock.left():.0f} s of the budget left; {phase} needs {NEEDS[phase]}"}


def bench(stage: Path, out: Path, clock: Clock, rehearsal: bool) -> dict:
    kept = stage / "results" / "bench_train.json"
    if kept.exists():
        return json.loads(kept.read_text()) | {"note": "run in an earlier call"}
    if clock.left() < NEEDS["bench"]:
        return not_started(clock, "bench")
    cmd = [sys.executable, "bench/bench_train.py", "--json", str(out / "bench_train.json")]
    cmd += ["--tiny"] if rehearsal else []
    rc, secs = run_logged(cmd, out / "bench_train.log", kit_env(stage), clock.left() - 5)
    res = {"status": "ok" if rc == 0 else f"exit {rc}", "seconds": secs, "command": " ".join(cmd[1:])}
    if rc == 0:
        rows = json.loads((out / "bench_train.json").read_text())
        res["trainers"] = [r for r in rows if "name" in r]
        res["summary"] = next((r for r in rows if "speedup" in r), {})
        res["goals"] = goals(res["trainers"], res["summary"])
        kept.parent.mkdir(exist_ok=True)
        kept.write_text(json.dumps(res))
    return res


def goals(trainers: list[dict], summary: dict) -> dict:
    by = {t["name"]: t for t in trainers}
    ours, base = by.get("vvae"), by.get("trl_defaults")
    if not (ours and base):
        return {}
    rel = abs(ours["loss"] - base["loss"]) / base["loss"] if ours.get("loss") and base.get("loss") else None
    return {"speedup": summary.get("speedup"), "speedup_goal": GOAL_SPEEDUP,
            "speedup_met": bool(summary.get("speedup") and summary["speedup"] >= GOAL_SPEEDUP),
            "mfu": ours.get("mfu"), "mfu_goal": GOAL_MFU, "mfu_met": bool(ours.get("mfu") and ours["mfu"] >= GOAL_MFU),
            "loss_relative_difference": rel, "loss_tolerance": LOSS_TOLERANCE,
            "loss_met": rel is not None and rel <= LOSS_TOLERANCE}


# Seconds per run and per step of every run on a Dagster instance (the e2e's), oldest first.
STAGE_SECONDS = r'''
import json, sys
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef

inst = DagsterInstance.from_ref(InstanceRef.from_dir(sys.argv[1]))
runs = []
for r in reversed(inst.get_runs()):
    stats, steps = inst.get_run_stats(r.run_id), inst.get_run_step_stats(r.run_id)
    took = stats.end_time - stats.start_time if stats.end_time and stats.start_time else None
    runs.append({"job": r.job_name, "partition": r.tags.get("dagster/partition"), "status": r.status.value,
                 "seconds": None if took is None else round(took, 1),
                 "steps": {s.step_key: round(s.end_time - s.start_time, 1)
                           for s in steps if s.end_time and s.start_time}})
print("STAGES " + json.dumps(runs))
'''


def stage_seconds(stage: Path, dagster_home: Path) -> list[dict] | str:
    proc = subprocess.run([sys.executable, "-c", STAGE_SECONDS, str(dagster_home)], cwd=REPO, env=kit_env(stage),
                          capture_output=True, text=True, timeout=120)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("STAGES ")), None)
    return json.loads(line[7:]) if line else (proc.stderr or proc.stdout)[-2000:]


def e2e(stage: Path, out: Path, clock: Clock, rehearsal: bool) -> dict:
    if clock.left() < NEEDS["e2e"]:
        return not_started(clock, "e2e")
    base = stage / "e2e-tmp"
    shutil.rmtree(base, ignore_errors=True)
    profile = {"VVAE_PROFILE": "local"} if rehearsal else {
        "VVAE_PROFILE": "gpu", "VVAE_ENCODER_ENGINE": "transformers", "VVAE_GENERATOR_ENGINE": "transformers"}
    env = kit_env(stage, **profile, VVAE_E2E_VARIANTS="core", VVAE_MODELS_DIR=str(stage / "models"),
                  VVAE_TORCH_THREADS=str(min(8, os.cpu_count() or 1)), VVAE_MLFLOW="on")
    cmd = [sys.executable, "-m", "pytest", "tests/e2e/test_pipeline.py", "-q", "-p", "no:cacheprovider",
           f"--basetemp={base}", f"--junitxml={out / 'e2e_junit.xml'}"]
    rc, secs = run_logged(cmd, out / "e2e.log", env, clock.left() - 5)
    res = {"status": "passed" if rc == 0 else f"exit {rc}", "seconds": secs, "profile": profile,
           "command": " ".join(cmd[1:])}
    junit = out / "e2e_junit.xml"
    if junit.exists():
        import xml.etree.ElementTree as ET

        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        res["tests"] = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        res["failed"] = [c.get("name") for c in suite.iter("testcase")
                         if c.find("failure") is not None or c.find("error") is not None]
    found = sorted(base.glob("**/home/main_result.json"))
    if found:
        main = json.loads(found[0].read_text())
        res["main_job"] = {k: main.get(k) for k in ("seconds", "runs", "failed_checks")}
        res["stages"] = stage_seconds(stage, found[0].parents[1] / "dagster")  # every run the e2e made
    kept = stage / "results" / "e2e.json"
    kept.parent.mkdir(exist_ok=True)
    kept.write_text(json.dumps(res))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kit", type=Path, default=REPO / ".gpu-kit")
    ap.add_argument("--stage", type=Path, default=Path(os.environ.get("VVAE_KIT_STAGE", "/root/vvae-kit")))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/vvae-gpu-out")))
    ap.add_argument("--phases", default="stage,unpack,check,bench,e2e")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds of work in this call")
    ap.add_argument("--keep-kit", action="store_true", help="copy the parcels' chunks instead of moving them")
    ap.add_argument("--cpu-rehearsal", action="store_true", help="on CPU: bench --tiny, e2e under VVAE_PROFILE=local")
    args = ap.parse_args(argv)
    phases = set(args.phases.split(","))
    clock = Clock(args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    args.stage.mkdir(parents=True, exist_ok=True)
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "phases": {}}
    manifest = load_manifest(args.kit, args.stage)
    if manifest is None:
        print("no kit: carry a parcel folder of .gpu-kit (scripts/gpu_kit.py build)", file=sys.stderr)
        return 2
    report["kit_id"] = manifest["kit_id"]
    rc = 0
    try:
        if "stage" in phases:
            report["phases"]["stage"] = stage_parcels(args.kit, args.stage, manifest, keep=args.keep_kit)
        if "unpack" in phases:
            report["phases"]["unpack"] = unpack(args.stage, manifest)
        if "check" in phases and unpacked(args.stage, manifest, "train"):
            profile = {"VVAE_PROFILE": "local"} if args.cpu_rehearsal else {
                "VVAE_ENCODER_ENGINE": "transformers", "VVAE_GENERATOR_ENGINE": "transformers"}
            full = all(unpacked(args.stage, manifest, a["name"]) for a in manifest["archives"])
            report["phases"]["check"] = check(args.stage, profile, full, manifest.get("left_out", []))
            rc |= not report["phases"]["check"]["ok"]
        if "bench" in phases and unpacked(args.stage, manifest, "train"):
            report["phases"]["bench"] = bench(args.stage, args.out, clock, args.cpu_rehearsal)
            rc |= report["phases"]["bench"].get("status") not in ("ok", None)
        if "e2e" in phases and all(unpacked(args.stage, manifest, a["name"]) for a in manifest["archives"]):
            report["phases"]["e2e"] = e2e(args.stage, args.out, clock, args.cpu_rehearsal)
            rc |= report["phases"]["e2e"]["status"] != "passed"
    finally:
        report["seconds"] = round(clock.budget - clock.left(), 1)
        (args.out / "gpu_run.json").write_text(json.dumps(report, indent=1))
        print(json.dumps(report, indent=1))
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
