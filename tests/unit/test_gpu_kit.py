"""The GPU kit: which packages travel (scripts/gpu_kit.py), how they are cut into parcels, and how
bench/gpu_run.py stages and unpacks them across device calls and judges the bench's goals."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


gpu_kit = _load("gpu_kit", REPO / "scripts" / "gpu_kit.py")
gpu_run = _load("gpu_run", REPO / "bench" / "gpu_run.py")


# No deadline: one run of this file failed here under load (not reproduced in 9 reruns); hypothesis's
# 200 ms deadline on a first example is the likely cause, and the property does not depend on time.
@settings(deadline=None)
@given(st.lists(st.integers(1, 500), min_size=1, max_size=6), st.integers(1, 300))
def test_parcels_hold_every_byte_in_order_and_none_exceeds_the_cap(sizes, cap):
    named = [(f"a{i}", s) for i, s in enumerate(sizes)]
    parcels = gpu_kit.chunk_plan(named, cap)
    assert all(0 < sum(length for _, _, length in p) <= cap for p in parcels)
    pieces = [piece for p in parcels for piece in p]
    for name, size in named:  # each archive is covered contiguously, from 0 to its size
        mine = [(off, length) for n, off, length in pieces if n == name]
        assert [off for off, _ in mine] == [sum(length for _, length in mine[:i]) for i in range(len(mine))]
        assert sum(length for _, length in mine) == size
    assert len(parcels) == -(-sum(sizes) // cap)  # only the last parcel has room left


def test_a_small_archive_shares_the_first_parcel():
    parcels = gpu_kit.chunk_plan([("train", 50), ("e2e", 130)], 60)
    assert parcels == [[("train", 0, 50), ("e2e", 0, 10)], [("e2e", 10, 60)], [("e2e", 70, 60)]]
    with pytest.raises(ValueError, match="working tree alone"):
        gpu_kit.chunk_plan([("train", 5)], 0)


def _installed(table):
    return lambda name: table.get(gpu_kit.canon(name), (None, []))


def test_closure_follows_py312_linux_markers_and_extras():
    table = {
        "app": ("1.0", ["lib>=2", "win-only; sys_platform == 'win32'", "old-py; python_version < '3.12'",
                        "opt; extra == 'fast'"]),
        "lib": ("2.1", ["leaf<3"]), "leaf": ("2.9", []), "win-only": ("1", []), "old-py": ("1", []),
        "opt": ("0.5", []), "pinned-only": (None, []),
    }
    dists = gpu_kit.closure(["app[fast]", "pinned-only==0.8.5"], installed=_installed(table))
    assert {k: d.version for k, d in dists.items()} == {
        "app": "1.0", "lib": "2.1", "leaf": "2.9", "opt": "0.5", "pinned-only": "0.8.5"}
    assert dists["leaf"].specs == ["<3 (lib)"]
    with pytest.raises(SystemExit, match="not installed"):
        gpu_kit.closure(["nowhere>=1"], installed=_installed(table))


def test_plan_carries_what_the_image_lacks_or_holds_at_an_excluded_version():
    D = gpu_kit.Dist
    dists = {"polars": D("polars", "2.1.0"), "numpy": D("numpy", "2.4.6", ["<2.5.0,>=1.19 (presidio-analyzer)"]),
             "pyarrow": D("pyarrow", "22.0", [">=18 (pyproject.toml)"]),
             "peft": D("peft", "0.21.2", ["<0.22,>=0.21 (pyproject.toml)"]),
             "scipy": D("scipy", "1.18.1", [">=1.15 (pyproject.toml)"]), "torch": D("torch", "2.13.0"),
             "dagster-webserver": D("dagster-webserver", "1.13.27"),
             "accelerate": D("accelerate", "1.15.0", [">=1.15,<1.16 (pyproject.toml)"])}
    image = {"numpy": "2.5.2", "pyarrow": None, "peft": None, "scipy": None, "torch": "2.11.0", "accelerate": "1.15.0"}
    direct = ["polars>=2.1,<3", "pyarrow>=18", "peft>=0.21,<0.22", "scipy>=1.15", "torch==2.13.0",
              "accelerate>=1.15,<1.16"]
    carry = gpu_kit.plan(dists, image, direct)
    assert set(carry) == {"polars", "numpy", "peft"}
    assert carry["numpy"].why == "the image has 2.5.2; needed <2.5.0,>=1.19 (presidio-analyzer)"
    assert carry["peft"].why.startswith("the image's version is not listed")


def test_the_image_list_parses_names_and_versions(tmp_path):
    path = tmp_path / "image.txt"
    path.write_text("# header\nTorch 2.11.0\nhuggingface_hub 1.33.0\npandas\n\n")
    assert gpu_kit.read_image(path) == {"torch": "2.11.0", "huggingface-hub": "1.33.0", "pandas": None}
    image = gpu_kit.read_image()
    assert image["torch"] and "polars" not in image  # the repo's own list


def _make_kit(tmp_path: Path, cap: int) -> tuple[Path, dict, dict[str, bytes]]:
    """A kit of two xz archives (random, incompressible files) cut into parcels of ``cap`` bytes."""
    import os

    kit, contents, archives = tmp_path / "kit", {}, []
    blobs = {}
    for name in ("train", "e2e"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:xz") as tar:
            data = os.urandom(3000 if name == "train" else 9000)
            contents[f"{name}_pkg/data.bin"] = data
            info = tarfile.TarInfo(f"{name}_pkg/data.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        blobs[name] = buf.getvalue()
        archives.append({"name": name, "file": f"{name}.tar.xz", "bytes": len(blobs[name]),
                         "sha256": hashlib.sha256(blobs[name]).hexdigest(), "chunks": []})
    layout = gpu_kit.chunk_plan([(a["name"], a["bytes"]) for a in archives], cap)
    by = {a["name"]: a for a in archives}
    for i, parcel in enumerate(layout, 1):
        (kit / f"p{i}").mkdir(parents=True)
        for name, off, length in parcel:
            a = by[name]
            part = kit / f"p{i}" / f"{a['file']}.{len(a['chunks']):02d}"
            part.write_bytes(blobs[name][off:off + length])
            a["chunks"].append({"parcel": f"p{i}", "file": part.name, "bytes": length,
                                "sha256": hashlib.sha256(part.read_bytes()).hexdigest()})
    manifest = {"kit_id": "k1", "parcels": [f"p{i}" for i in range(1, len(layout) + 1)], "archives": archives}
    for p in manifest["parcels"]:
        (kit / p / "manifest.json").write_text(json.dumps(manifest))
    return kit, manifest, contents


def _carry(kit: Path, only: str, into: Path) -> Path:
    """What one device call sees: only parcel ``only`` in the checkout's kit folder."""
    import shutil

    shutil.rmtree(into, ignore_errors=True)
    shutil.copytree(kit / only, into / only)
    return into


def test_parcels_staged_call_by_call_unpack_once_complete(tmp_path):
    kit, manifest, contents = _make_kit(tmp_path, cap=6000)
    assert len(manifest["parcels"]) >= 3
    stage, seen = tmp_path / "stage", tmp_path / "checkout-kit"
    for i, parcel in enumerate(manifest["parcels"]):
        carried = _carry(kit, parcel, seen)
        m = gpu_run.load_manifest(carried, stage)
        staged = gpu_run.stage_parcels(carried, stage, m)
        assert staged["held"] == manifest["parcels"][:i + 1]
        assert not any((carried / parcel).glob("*.xz.*"))  # moved out of the checkout
        status = gpu_run.unpack(stage, m)
        last = i == len(manifest["parcels"]) - 1
        assert gpu_run.unpacked(stage, m, "e2e") == last
        if not last:
            assert status["e2e"].startswith("waiting for")
    assert gpu_run.unpacked(stage, m, "train")
    for rel, data in contents.items():
        assert (stage / "site" / rel).read_bytes() == data
    assert gpu_run.unpack(stage, m) == {"train": "unpacked earlier", "e2e": "unpacked earlier"}


def test_a_damaged_chunk_is_refused(tmp_path):
    kit, manifest, _ = _make_kit(tmp_path, cap=6000)
    part = next((kit / "p2").glob("*.xz.*"))
    part.write_bytes(b"x" + part.read_bytes()[1:])
    carried = _carry(kit, "p2", tmp_path / "seen")
    m = gpu_run.load_manifest(carried, tmp_path / "stage")
    with pytest.raises(SystemExit, match="differ from the manifest"):
        gpu_run.stage_parcels(carried, tmp_path / "stage", m)


def test_another_kit_clears_what_was_staged(tmp_path):
    kit, manifest, _ = _make_kit(tmp_path, cap=6000)
    stage = tmp_path / "stage"
    carried = _carry(kit, "p1", tmp_path / "seen")
    gpu_run.stage_parcels(carried, stage, gpu_run.load_manifest(carried, stage))
    assert any((stage / "chunks").iterdir())
    newer = json.loads((kit / "p2" / "manifest.json").read_text()) | {"kit_id": "k2"}
    (kit / "p2" / "manifest.json").write_text(json.dumps(newer))
    carried = _carry(kit, "p2", tmp_path / "seen")
    m = gpu_run.load_manifest(carried, stage)
    assert m["kit_id"] == "k2" and not any((stage / "chunks").iterdir())


def test_bench_goals():
    base = {"name": "trl_defaults", "real_tok_s": 2259.0, "mfu": 0.07, "loss": 11.93}
    fast = {"name": "vvae", "real_tok_s": 11800.0, "mfu": 0.36, "loss": 11.95}
    g = gpu_run.goals([base, fast], {"speedup": 5.22})
    assert g["speedup_met"] and g["mfu_met"] and g["loss_met"]
    slow = fast | {"real_tok_s": 10473.0, "mfu": 0.32, "loss": 12.2}
    g = gpu_run.goals([base, slow], {"speedup": 4.64})
    assert not (g["speedup_met"] or g["mfu_met"] or g["loss_met"])


def test_unmet_requirements_fail_only_when_missing_and_not_left_out_on_purpose():
    unmet = ["Flask<4 (mlflow): missing", "dagster-webserver==1.13.27 (pyproject.toml): missing",
             "protobuf<7,>=4; python_version >= \"3.11\" (dagster): 7.36.2", "jieba==0.42.1 (pyproject.toml): missing"]
    got = gpu_run.classify(unmet, ["flask", "dagster-webserver"])
    assert got == {"left_out": unmet[:2], "missing": [unmet[3]], "version_conflicts": [unmet[2]]}
