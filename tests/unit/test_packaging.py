"""pyproject.toml: every package is found, package data is declared, and the extras install.
The wheel itself is built and installed by scripts/ci_wheel.sh (a CI step)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_packages_find_covers_every_package_of_the_source_tree():
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    found = set(find_packages(str(REPO), include=include))
    on_disk = {str(p.parent.relative_to(REPO)).replace("/", ".")
               for top in ("vvae_pipeline", "assets", "resources") for p in (REPO / top).rglob("__init__.py")}
    assert on_disk <= found and len(on_disk) >= 12, sorted(on_disk - found)
    assert not any(p.startswith("tests") for p in found)


def test_package_data_covers_the_json_files_the_library_reads():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["vvae_pipeline"]
    data = list((REPO / "vvae_pipeline" / "data").glob("*.json"))
    assert data and all(any(p.relative_to(REPO / "vvae_pipeline").match(pat) for pat in patterns) for p in data)


def test_gpu_extra_is_pinned_and_holds_no_vllm():
    # No vLLM release accepts transformers>=5.23 (vllm 0.33.0: <5.21); it has its own environment.
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert all("==" in req for req in extras["gpu"]), extras["gpu"]
    assert not any(re.match(r"vllm\b", req) for reqs in extras.values() for req in reqs)
    assert any(req.startswith("transformers>=5.23") for req in PYPROJECT["project"]["dependencies"])
    script = (REPO / "scripts" / "setup_vllm_gpu.sh").read_text()
    assert re.search(r"^VLLM=vllm==\d+\.\d+\.\d+$", script, re.MULTILINE), "the vLLM GPU environment pins one release"
